"""Helpers several test files share: real processes, a real receiver, polling, sample orders and events,
orders built through the domain's rules, and order_api's store in memory."""
