"""Domain errors a handler raises; the runtime turns them into error replies by `code`."""


class ServiceError(Exception):
    """Base class: `code` is the machine-readable error code put on the wire."""

    code = "internal"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(ServiceError):
    code = "not_found"


class InvalidRequest(ServiceError):
    code = "bad_params"


class Conflict(ServiceError):
    code = "conflict"
