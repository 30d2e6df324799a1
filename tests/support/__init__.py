"""Helpers the integration and end-to-end suites share: real processes, a real receiver, polling."""
