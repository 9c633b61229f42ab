"""troupe: the Python client of Troupe, a distributed actor system.

    import troupe

    with troupe.Client("/var/lib/troupe/run/troupd.sock") as client:
        reply = client.ask("hello", "text", "hi", timeout=1.0)
        print(reply.type, reply.text)

See sdk/python/README.md for the whole API. The gRPC stubs (troupe.v1.*_pb2)
are generated from proto/ when the project is built.
"""

from troupe.client import POISON_MESSAGE_TYPE, Client, Message
from troupe.errors import (
    Aborted,
    ActorFailed,
    AlreadyExists,
    Cancelled,
    DeadlineExceeded,
    Error,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
    Unimplemented,
)

__all__ = [
    "Client",
    "Message",
    "POISON_MESSAGE_TYPE",
    "Error",
    "Aborted",
    "ActorFailed",
    "AlreadyExists",
    "Cancelled",
    "DeadlineExceeded",
    "FailedPrecondition",
    "Internal",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "ResourceExhausted",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
]
