"""Helpers several test files share: real processes, a real receiver, polling, scratch schemas, sample
orders and events, orders built through the domain's rules, webhook helpers, and order_api's store and
the dispatcher's tables in memory (their use cases' fakes)."""
