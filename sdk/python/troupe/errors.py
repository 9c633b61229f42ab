"""The exceptions of the troupe client: one class per gRPC status code.

Every failed call raises a subclass of :class:`troupe.Error`, which carries
the code (``grpc.StatusCode``) and the daemon's text (``details``)::

    try:
        client.ask("nobody", "text", "hi")
    except troupe.NotFound as e:
        print(e.code, e.details)

An ask whose actor failed on the message (the daemon answers with a
``troupe.PoisonMessage``) raises :class:`troupe.ActorFailed`.
"""

import grpc

__all__ = [
    "Error",
    "Cancelled",
    "InvalidArgument",
    "DeadlineExceeded",
    "NotFound",
    "AlreadyExists",
    "PermissionDenied",
    "ResourceExhausted",
    "FailedPrecondition",
    "Aborted",
    "Unimplemented",
    "Internal",
    "Unavailable",
    "Unauthenticated",
    "ActorFailed",
    "error_from_rpc",
]


class Error(Exception):
    """A failed call: ``code`` (a ``grpc.StatusCode``) and ``details`` (text)."""

    code = grpc.StatusCode.UNKNOWN

    def __init__(self, details, code=None):
        super().__init__(details)
        self.details = details
        if code is not None:
            self.code = code

    def __str__(self):
        return f"{self.code.name}: {self.details}"


class Cancelled(Error):
    code = grpc.StatusCode.CANCELLED


class InvalidArgument(Error):
    code = grpc.StatusCode.INVALID_ARGUMENT


class DeadlineExceeded(Error):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class NotFound(Error):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(Error):
    code = grpc.StatusCode.ALREADY_EXISTS


class PermissionDenied(Error):
    code = grpc.StatusCode.PERMISSION_DENIED


class ResourceExhausted(Error):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class FailedPrecondition(Error):
    code = grpc.StatusCode.FAILED_PRECONDITION


class Aborted(Error):
    code = grpc.StatusCode.ABORTED


class Unimplemented(Error):
    code = grpc.StatusCode.UNIMPLEMENTED


class Internal(Error):
    code = grpc.StatusCode.INTERNAL


class Unavailable(Error):
    code = grpc.StatusCode.UNAVAILABLE


class Unauthenticated(Error):
    code = grpc.StatusCode.UNAUTHENTICATED


class ActorFailed(Aborted):
    """The asked actor failed on the message (twice: the runtime retries once)
    and the daemon answered with a ``troupe.PoisonMessage``.

    ``actor``: the address of the actor that failed; ``message_type`` and
    ``payload``: the message it failed on; ``error``: its failure's text.
    The code is ABORTED, as ``director ask`` reports it.
    """

    def __init__(self, actor, message_type, payload, error):
        super().__init__(f"{actor} failed on the {message_type} message: {error}")
        self.actor = actor
        self.message_type = message_type
        self.payload = payload
        self.error = error


_BY_CODE = {
    cls.code: cls
    for cls in (
        Cancelled,
        InvalidArgument,
        DeadlineExceeded,
        NotFound,
        AlreadyExists,
        PermissionDenied,
        ResourceExhausted,
        FailedPrecondition,
        Aborted,
        Unimplemented,
        Internal,
        Unavailable,
        Unauthenticated,
    )
}


def error_from_code(code, details):
    """The exception for ``code`` (a ``grpc.StatusCode``) with ``details``."""
    return _BY_CODE.get(code, Error)(details, code)


def error_from_rpc(rpc_error, daemon=None):
    """The exception for a ``grpc.RpcError``. ``daemon`` (the target as shown
    to people) is named in UNAVAILABLE texts, where the daemon went away."""
    code = rpc_error.code()
    details = rpc_error.details() or code.name.lower().replace("_", " ")
    if code == grpc.StatusCode.UNAVAILABLE and daemon is not None:
        details = f"cannot reach troupd at {daemon}: {details}"
    return error_from_code(code, details)
