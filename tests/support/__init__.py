"""Helpers several test files share: real processes, a real receiver, polling, scratch schemas, webhook
helpers, and the dispatcher's tables in memory (its use cases' fakes)."""
