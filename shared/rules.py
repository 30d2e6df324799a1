"""How a business rule says no, in every service: the field to fix, a stable code and a message."""


class RuleError(ValueError):
    """Well-typed input that breaks a rule (HTTP 422 where it comes from a request); `field` names
    what to fix, `code` is what a client branches on."""

    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.code = code
        self.message = message
