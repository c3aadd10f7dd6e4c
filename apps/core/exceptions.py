"""The base of every domain error: a stable machine code and a human message.

Each app subclasses DomainError once (PlayersError, WalletError, ...) and adds its own
errors with their codes. Doors translate them: the API into JSON 4xx, protocol adapters
into their protocol's error codes, the admin into a message.
"""


class DomainError(Exception):
    code = "domain_error"
    http_status = 400
    default_message = "The request cannot be carried out."

    def __init__(self, message: str | None = None, *, code: str | None = None, **details):
        self.message = message or self.default_message
        if code is not None:
            self.code = code
        self.details = details
        super().__init__(self.message)


class NotFound(DomainError):
    code = "not_found"
    http_status = 404
    default_message = "Not found."


class PermissionDenied(DomainError):
    code = "permission_denied"
    http_status = 403
    default_message = "You do not have permission to do this."


class Conflict(DomainError):
    code = "conflict"
    http_status = 409
    default_message = "The request conflicts with the current state."
