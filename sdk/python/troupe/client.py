"""troupe.Client: talk to the actors of a running troupd from Python.

One Client holds one gRPC channel to the daemon (its unix socket, or host:port
with the client token) and makes unary calls on it: Messaging.Tell and Ask
for messages, CreateActor and Lookup, and the Admin calls. Thread-safe: share
one Client between threads. Errors are the exceptions of troupe.errors.
"""

import asyncio
import concurrent.futures
import json
import math
import os
import struct
from typing import NamedTuple

import grpc
from google.protobuf import json_format

from troupe import errors
from troupe.v1 import admin_pb2, admin_pb2_grpc, manifest_pb2
from troupe.v1 import messaging_pb2, messaging_pb2_grpc

__all__ = ["Client", "Message", "POISON_MESSAGE_TYPE"]

# The type of the message an ask gets back when the actor failed on it.
POISON_MESSAGE_TYPE = "troupe.PoisonMessage"
# Admin.LoadUpload chunks, as director sends them.
_CHUNK_BYTES = 1 << 20
# How much longer than an ask's own timeout its call may take, so that the
# daemon's DEADLINE_EXCEEDED (which names the target) arrives first.
_ASK_GRACE_SECONDS = 2.0
# The daemon's limit for one ask (docs/daemon.md).
_MAX_ASK_SECONDS = 600.0
_START_HINT = "is troupd running? start it with `director start`"
# Client._call's default deadline: the Client's call_timeout.
_CALL_TIMEOUT = object()


class Message(NamedTuple):
    """A message as a client sees it: type name, payload bytes, and the
    address of the actor that sent it ("" when sent by no actor)."""

    type: str
    payload: bytes
    sender: str = ""

    @property
    def text(self):
        """The payload as UTF-8 text."""
        return self.payload.decode("utf-8")


class _Target(NamedTuple):
    grpc_target: str  # what gRPC dials
    display: str  # what messages name
    unix_socket: str  # the socket path, or "" for host:port


def _parse_target(text):
    """A unix socket path (absolute, relative without ':', or unix:PATH) or
    host:port, as troupe::Client takes it."""
    if not text:
        raise errors.InvalidArgument(
            "no daemon address: give troupd's unix socket path or host:port")
    if text.startswith("unix:"):
        path = text[len("unix:"):]
        if path.startswith("///"):
            path = path[2:]
        if not path:
            raise errors.InvalidArgument("'unix:' names no socket path")
        return _Target("unix:" + path, "unix:" + path, path)
    if text.startswith("/") or ":" not in text:
        path = os.path.normpath(os.path.abspath(text))
        return _Target("unix:" + path, "unix:" + path, path)
    return _Target(text, text, "")


def _clean_token(token):
    """The token as read from keys/client.token, without surrounding white
    space; only printable ASCII can travel as metadata."""
    if isinstance(token, bytes):
        token = token.decode("ascii", errors="replace")
    token = token.strip()
    if any(not ("\x21" <= c <= "\x7e") for c in token):
        raise errors.InvalidArgument(
            "the client token holds a character that is not printable ASCII; use the "
            "contents of the daemon's keys/client.token")
    return token


def _as_bytes(payload):
    if isinstance(payload, str):
        return payload.encode("utf-8")
    return bytes(payload)


def _read_field(data, offset):
    """One length-prefixed field of a system message (sdk wire.h)."""
    if len(data) - offset < 4:
        raise ValueError("short field")
    (size,) = struct.unpack_from("<I", data, offset)
    start = offset + 4
    if len(data) - start < size:
        raise ValueError("short field")
    return data[start:start + size], start + size


def _actor_failed(reply, to, message_type):
    """The ActorFailed of a PoisonMessage reply (type, payload, error)."""
    actor = reply.sender or to
    try:
        failed_type, offset = _read_field(reply.payload, 0)
        payload, offset = _read_field(reply.payload, offset)
        error, offset = _read_field(reply.payload, offset)
        if offset != len(reply.payload):
            raise ValueError("trailing bytes")
        return errors.ActorFailed(actor, failed_type.decode("utf-8", "replace"), payload,
                                  error.decode("utf-8", "replace"))
    except ValueError:
        return errors.ActorFailed(actor, message_type, b"", "(undecodable PoisonMessage)")


def _requirements(requirements):
    """Requirements as in a manifest (a list of dicts, or its JSON text) as
    the Requirement messages CreateActor takes."""
    if requirements is None:
        return []
    if isinstance(requirements, (str, bytes)):
        try:
            requirements = json.loads(requirements) if requirements.strip() else []
        except ValueError as e:
            raise errors.InvalidArgument(
                f"requirements: not a JSON array of requirements as in a manifest: {e}") from None
    if not isinstance(requirements, (list, tuple)):
        raise errors.InvalidArgument(
            'requirements: not a list of requirements as in a manifest (e.g. '
            '[{"capability": "gpu", "equals": true}])')
    spec = manifest_pb2.ActorSpec()
    try:
        json_format.ParseDict({"requirements": list(requirements)}, spec)
    except json_format.ParseError as e:
        raise errors.InvalidArgument(
            f"requirements: not requirements as in a manifest: {e}") from None
    return list(spec.requirements)


class Client:
    """A connection to one troupd.

    ``target``: the daemon's unix socket path (absolute, or ``unix:PATH``) or
    ``host:port`` of its TCP listener. ``token``: for host:port, the contents
    of the daemon's ``keys/client.token`` (sent with every call; ignored on a
    unix socket). ``tls_root``: for a TCP listener that speaks TLS, the PEM
    text (str or bytes) of the authority that signed its certificate.
    ``connect_timeout``: how long the constructor waits for the daemon
    (seconds). ``call_timeout``: the deadline of each call but asks and
    bundle loads (seconds).

    Raises Unavailable naming the target when nothing answers in time, and
    Unauthenticated when a TCP listener refuses the token.
    """

    def __init__(self, target, token=None, tls_root=None, connect_timeout=5.0,
                 call_timeout=60.0):
        self._target = _parse_target(target)
        self._call_timeout = call_timeout
        self._metadata = ()
        if not self._target.unix_socket and token:
            self._metadata = (("authorization", "Bearer " + _clean_token(token)),)
        options = [
            ("grpc.max_receive_message_length", -1),  # the daemon enforces its limit
            ("grpc.max_send_message_length", -1),
            ("grpc.use_local_subchannel_pool", 1),  # one connection per Client
            ("grpc.initial_reconnect_backoff_ms", 100),
            ("grpc.min_reconnect_backoff_ms", 100),
            ("grpc.max_reconnect_backoff_ms", 1000),
        ]
        if tls_root and not self._target.unix_socket:
            root = tls_root.encode("ascii") if isinstance(tls_root, str) else tls_root
            credentials = grpc.ssl_channel_credentials(root_certificates=root)
            self._channel = grpc.secure_channel(self._target.grpc_target, credentials, options)
        else:
            self._channel = grpc.insecure_channel(self._target.grpc_target, options)
        try:
            grpc.channel_ready_future(self._channel).result(timeout=connect_timeout)
        except grpc.FutureTimeoutError:
            self._channel.close()
            raise self._nobody_answered(connect_timeout) from None
        self._messaging = messaging_pb2_grpc.MessagingStub(self._channel)
        self._admin = admin_pb2_grpc.AdminStub(self._channel)
        if not self._target.unix_socket:
            # A TCP listener decides from each call's token: find out now.
            try:
                self._call(self._admin.GetCapabilities, admin_pb2.GetCapabilitiesRequest(),
                           timeout=connect_timeout)
            except errors.Error:
                self._channel.close()
                raise

    # ---- lifetime ----

    def close(self):
        """Closes the channel; calls under way end with CANCELLED."""
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    @property
    def target(self):
        """The daemon as messages name it (unix:PATH or host:port)."""
        return self._target.display

    # ---- messages ----

    def tell(self, to, type, payload=b""):
        """Sends a message to ``to`` (an address troupe://NODE/ID or a global
        name) and returns once the daemon has queued it. The message has no
        sender, so the actor's replies go nowhere. Tells from one thread reach
        an actor in the order they were made. A tell to an exited actor is a
        dead letter, not an error."""
        request = messaging_pb2.TellRequest(to=to, type=type, payload=_as_bytes(payload))
        self._call(self._messaging.Tell, request)

    def ask(self, to, type, payload=b"", timeout=30.0):
        """Sends a message and returns the first message sent back to it
        (a :class:`Message`). DeadlineExceeded when no reply comes within
        ``timeout`` seconds; ActorFailed when the actor failed on it."""
        request = self._ask_request(to, type, payload, timeout)
        try:
            response = self._messaging.Ask(request, timeout=timeout + _ASK_GRACE_SECONDS,
                                           metadata=self._metadata)
        except grpc.RpcError as e:
            raise self._ask_error(e, to, timeout) from None
        return self._reply(response, to, type)

    def ask_async(self, to, type, payload=b"", timeout=30.0):
        """As :meth:`ask` without waiting: a ``concurrent.futures.Future``
        whose result is the reply, or whose exception is the error."""
        request = self._ask_request(to, type, payload, timeout)
        future = concurrent.futures.Future()
        call = self._messaging.Ask.future(request, timeout=timeout + _ASK_GRACE_SECONDS,
                                          metadata=self._metadata)

        def done(finished):
            if not future.set_running_or_notify_cancel():
                return
            try:
                response = finished.result()
            except grpc.RpcError as e:
                future.set_exception(self._ask_error(e, to, timeout))
                return
            except grpc.FutureCancelledError:
                future.set_exception(errors.Cancelled("the ask was cancelled"))
                return
            try:
                future.set_result(self._reply(response, to, type))
            except errors.ActorFailed as failed:
                future.set_exception(failed)

        call.add_done_callback(done)
        future.add_done_callback(lambda f: f.cancelled() and call.cancel())
        return future

    async def ask_asyncio(self, to, type, payload=b"", timeout=30.0):
        """As :meth:`ask`, awaitable in an asyncio event loop (the loop is
        never blocked)."""
        return await asyncio.wrap_future(self.ask_async(to, type, payload, timeout))

    # ---- actors ----

    def create_actor(self, group, class_name, global_name="", requirements=None):
        """Creates an actor of ``class_name`` from the active version of
        ``group`` and returns its address. ``requirements``: as in a manifest,
        a list like ``[{"capability": "gpu", "equals": True}]`` (or its JSON
        text); ``global_name``: a name to give it ("" for none)."""
        request = messaging_pb2.CreateActorRequest(
            group=group, class_name=class_name, global_name=global_name,
            requirements=_requirements(requirements))
        return self._call(self._messaging.CreateActor, request).address

    def lookup(self, global_name):
        """The address of the actor named ``global_name`` (NotFound if none)."""
        request = messaging_pb2.LookupRequest(global_name=global_name)
        return self._call(self._messaging.Lookup, request).address

    def role(self, role, group=""):
        """The addresses of the actors playing ``role`` in the active version
        of ``group`` (every group when empty)."""
        response = self._call(self._admin.Role, admin_pb2.RoleRequest(role=role, group=group))
        return [actor.address for actor in response.actors]

    # ---- bundles ----

    def load_bundle(self, path, timeout=None):
        """Uploads the bundle file at ``path`` (1 MiB chunks), which the
        daemon verifies, stores, loads and activates. Returns the
        ``troupe.v1.LoadResponse`` (``bundle``, ``already_loaded``,
        ``changes``). InvalidArgument for a file that is not a bundle;
        FailedPrecondition when the daemon refuses the bundle (tampered,
        unknown signer, a failed on_load action); OSError when the file
        cannot be read here."""
        bundle = open(path, "rb")  # OSError naming the path, before any call

        def chunks():
            with bundle:
                while True:
                    data = bundle.read(_CHUNK_BYTES)
                    if not data:
                        return
                    yield admin_pb2.LoadChunk(data=data)

        return self._call(self._admin.LoadUpload, chunks(), timeout=timeout)

    def unload(self, target):
        """Unloads by source hash (or a unique prefix of 8 or more digits),
        group (every version) or GROUP-VERSION. Returns the
        ``troupe.v1.UnloadResponse``. NotFound when nothing matches."""
        return self._call(self._admin.Unload, admin_pb2.UnloadRequest(target=target))

    def list_bundles(self, group=""):
        """The loaded bundles (``troupe.v1.BundleInfo``), of ``group`` or all."""
        return list(self._call(self._admin.List, admin_pb2.ListRequest(group=group)).bundles)

    # ---- the daemon ----

    def status(self, actor=""):
        """The ``troupe.v1.StatusResponse`` of the whole system (``system``,
        ``bundles``, ``actors``, ``text``), or of one actor (an address or
        global name: ``actors[0]``; NotFound when it is not alive)."""
        return self._call(self._admin.Status, admin_pb2.StatusRequest(actor=actor))

    def actor_logs(self, actor, lines=0):
        """The ``troupe.v1.ActorLogsResponse`` of one actor (an address or
        global name): ``lines`` (``unix_ms``, ``level``, ``text``), oldest
        first, the newest ``lines`` of them (all when 0), and ``dropped``,
        ``exited``. NotFound when the daemon keeps no line of it."""
        request = admin_pb2.ActorLogsRequest(actor=actor, max_lines=lines)
        return self._call(self._admin.ActorLogs, request)

    def capabilities(self):
        """The daemon's capabilities, a dict of name -> JSON value."""
        response = self._call(self._admin.GetCapabilities, admin_pb2.GetCapabilitiesRequest())
        return json.loads(response.json)

    def set_capability(self, name, value):
        """Sets one capability to ``value`` (anything json.dumps takes), or
        removes it when ``value`` is None. FailedPrecondition for a
        read-only name (troupe.*)."""
        value_json = "" if value is None else json.dumps(value)
        request = admin_pb2.SetCapabilityRequest(name=name, value_json=value_json)
        return json.loads(self._call(self._admin.SetCapability, request).json)

    def convention_status(self):
        """The convention as this daemon sees it
        (``troupe.v1.ConventionStatusResponse``: ``role`` "alone", "leader"
        or "member", ``members``, ...)."""
        return self._call(self._admin.ConventionStatus, admin_pb2.ConventionStatusRequest())

    def convention_updates(self, timeout=None):
        """A generator of ``troupe.v1.ConventionStatusResponse``: the status
        now, then again after each roster change (a member joined, left or
        expired, changed capabilities or bundles; this daemon joined or lost
        its leader). Changes close together may come as one update. Runs
        until the generator is closed (which cancels the watch), ``timeout``
        seconds pass (DeadlineExceeded), or the daemon stops (Unavailable)."""
        call = self._admin.WatchConvention(admin_pb2.WatchConventionRequest(),
                                           timeout=timeout, metadata=self._metadata)
        try:
            for update in call:
                yield update
        except grpc.RpcError as e:
            raise errors.error_from_rpc(e, self._target.display) from None
        finally:
            call.cancel()

    # ---- helpers ----

    def _call(self, method, request, timeout=_CALL_TIMEOUT):
        if timeout is _CALL_TIMEOUT:
            timeout = self._call_timeout
        try:
            return method(request, timeout=timeout, metadata=self._metadata)
        except grpc.RpcError as e:
            raise errors.error_from_rpc(e, self._target.display) from None

    def _ask_request(self, to, type, payload, timeout):
        if not (timeout > 0) or timeout > _MAX_ASK_SECONDS:
            raise errors.InvalidArgument(
                f"an ask's timeout must be more than 0 and at most {_MAX_ASK_SECONDS:g} "
                f"seconds, not {timeout!r}")
        return messaging_pb2.AskRequest(to=to, type=type, payload=_as_bytes(payload),
                                        timeout_ms=max(1, math.ceil(timeout * 1000)))

    def _ask_error(self, rpc_error, to, timeout):
        if (rpc_error.code() == grpc.StatusCode.DEADLINE_EXCEEDED and
                rpc_error.details() in (None, "", "Deadline Exceeded")):
            # gRPC's own deadline (the daemon's answer names the target).
            return errors.DeadlineExceeded(f"no reply from {to} within {timeout:g} s")
        return errors.error_from_rpc(rpc_error, self._target.display)

    @staticmethod
    def _reply(response, to, type):
        reply = Message(response.type, response.payload, getattr(response, "from"))
        if reply.type == POISON_MESSAGE_TYPE:
            raise _actor_failed(reply, to, type)
        return reply

    def _nobody_answered(self, waited):
        where = f"cannot connect to troupd at {self._target.display}"
        if self._target.unix_socket and not os.path.exists(self._target.unix_socket):
            return errors.Unavailable(
                f"{where}: no socket there (waited {waited:g} s); {_START_HINT}")
        tcp = "" if self._target.unix_socket else " (with listen_tcp set, for TCP clients)"
        return errors.Unavailable(
            f"{where}: nothing answered within {waited:g} s; {_START_HINT}{tcp}")
