"""troupe.Client against a real troupd: every method and every error class.

The daemon fixture has the hello bundle loaded (hello.Echo, named "hello");
the examples fixture loads plugins/examples' bundle through the client
(examples.Echo, Counter, Failing, ...; plugins/examples/README.md).
"""

import asyncio
import concurrent.futures
import os
import socket
import subprocess

import grpc
import pytest

import troupe
from conftest import env_path

# The daemon's default max_message_bytes (docs/daemon.md).
MAX_MESSAGE_BYTES = 4 << 20


# ---- messages ----

def test_ask_returns_the_reply_with_its_sender(client):
    reply = client.ask("hello", "text", "hi there", timeout=10)
    assert reply == troupe.Message("text", b"hi there", reply.sender)
    assert reply.text == "hi there"
    assert reply.sender == client.lookup("hello")
    assert reply.sender.startswith("troupe://")


def test_ask_carries_binary_payloads(client):
    payload = bytes(range(256)) * 4
    assert client.ask("hello", "blob", payload, timeout=10).payload == payload


def test_tells_reach_the_actor_in_order_before_a_later_ask(examples):
    counter = examples.create_actor("examples", "examples.Counter")
    for checkpoint in (1, 10, 100):
        while int(examples.ask(counter, "get", timeout=10).text) < checkpoint:
            examples.tell(counter, "increment", "1")
        # Every tell made before the ask was handled before it.
        assert examples.ask(counter, "get", timeout=10) == ("count", str(checkpoint).encode(),
                                                            counter)


def test_every_tell_arrives(examples):
    counter = examples.create_actor("examples", "examples.Counter")
    for n in range(1, 51):
        examples.tell(counter, "increment", str(n))
    assert examples.ask(counter, "get", timeout=10).text == str(sum(range(1, 51)))


def test_actor_logs_are_the_lines_the_actor_logged(examples):
    counter = examples.create_actor("examples", "examples.Counter", global_name="logged")
    for n in ("2", "3"):
        examples.tell(counter, "increment", n)
    assert examples.ask(counter, "get", timeout=10).text == "5"
    logs = examples.actor_logs("logged")
    assert logs.address == counter
    assert [line.text for line in logs.lines] == ["count is now 2", "count is now 5"]
    assert all(line.level == "info" and line.unix_ms > 0 for line in logs.lines)
    assert [line.text for line in examples.actor_logs(counter, lines=1).lines] == [
        "count is now 5"]
    with pytest.raises(troupe.NotFound):
        examples.actor_logs("nobody-has-this-name")


def test_ask_async_returns_a_concurrent_future(client):
    futures = [client.ask_async("hello", "text", f"n{i}", timeout=10) for i in range(50)]
    assert all(isinstance(f, concurrent.futures.Future) for f in futures)
    done, not_done = concurrent.futures.wait(futures, timeout=30)
    assert not not_done
    assert [f.result().text for f in futures] == [f"n{i}" for i in range(50)]


def test_ask_async_reports_errors_through_the_future(client):
    future = client.ask_async("nobody-has-this-name", "text", "hi", timeout=10)
    error = future.exception(timeout=30)
    assert isinstance(error, troupe.NotFound)
    with pytest.raises(troupe.NotFound):
        future.result()


def test_ask_asyncio_awaits_without_blocking_the_loop(client):
    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        tick_task = asyncio.ensure_future(ticker())
        replies = await asyncio.gather(
            *(client.ask_asyncio("hello", "text", f"a{i}", timeout=10) for i in range(20)))
        with pytest.raises(troupe.NotFound):
            await client.ask_asyncio("nobody-has-this-name", "text", "x", timeout=10)
        tick_task.cancel()
        return replies, ticks

    replies, ticks = asyncio.run(main())
    assert [r.text for r in replies] == [f"a{i}" for i in range(20)]
    assert ticks > 0  # the loop ran other work while the asks were out


# ---- actors ----

def test_create_actor_lookup_and_role(examples):
    address = examples.create_actor("examples", "examples.Echo", global_name="py.echo")
    assert address.startswith("troupe://")
    assert examples.lookup("py.echo") == address
    assert examples.ask(address, "ping", "1", timeout=10).sender == address
    assert examples.ask("py.echo", "ping", "2", timeout=10).text == "2"
    echoes = examples.role("echo", "examples")
    assert len(echoes) == 1 and echoes[0].startswith("troupe://")


def test_create_actor_checks_requirements(examples):
    with pytest.raises(troupe.FailedPrecondition, match="gpu"):
        examples.create_actor("examples", "examples.Echo",
                              requirements=[{"capability": "gpu", "equals": True}])
    with pytest.raises(troupe.InvalidArgument, match="requirements"):
        examples.create_actor("examples", "examples.Echo", requirements="{not json")
    with pytest.raises(troupe.InvalidArgument, match="requirements"):
        examples.create_actor("examples", "examples.Echo", requirements=[{"colour": "red"}])


# ---- errors ----

def test_unknown_names_are_not_found(examples):
    with pytest.raises(troupe.NotFound) as asked:
        examples.ask("nobody-has-this-name", "text", "hi", timeout=10)
    assert asked.value.code == grpc.StatusCode.NOT_FOUND
    assert "nobody-has-this-name" in asked.value.details
    with pytest.raises(troupe.NotFound):
        examples.tell("nobody-has-this-name", "text", "hi")
    with pytest.raises(troupe.NotFound):
        examples.lookup("nobody-has-this-name")
    with pytest.raises(troupe.NotFound):
        examples.create_actor("no-such-group", "examples.Echo")
    with pytest.raises(troupe.NotFound):
        examples.create_actor("examples", "examples.NoSuchClass")
    # Errors are troupe.Error, and print their code.
    assert isinstance(asked.value, troupe.Error)
    assert str(asked.value).startswith("NOT_FOUND: ")


def test_ask_without_reply_is_deadline_exceeded(examples):
    counter = examples.create_actor("examples", "examples.Counter")  # increment: no reply
    with pytest.raises(troupe.DeadlineExceeded) as timed_out:
        examples.ask(counter, "increment", "1", timeout=0.3)
    assert timed_out.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
    future = examples.ask_async(counter, "increment", "1", timeout=0.3)
    assert isinstance(future.exception(timeout=30), troupe.DeadlineExceeded)
    # The actor handled both and is still there.
    assert examples.ask(counter, "get", timeout=10).text == "2"


def test_ask_timeout_must_be_positive(client):
    with pytest.raises(troupe.InvalidArgument, match="timeout"):
        client.ask("hello", "text", "x", timeout=0)


def test_failing_actor_raises_actor_failed(examples):
    failing = examples.create_actor("examples", "examples.Failing")
    with pytest.raises(troupe.ActorFailed) as failed:
        examples.ask(failing, "fail", "payload!", timeout=10)
    error = failed.value
    assert error.code == grpc.StatusCode.ABORTED
    assert isinstance(error, troupe.Aborted)
    assert error.actor == failing
    assert error.message_type == "fail"
    assert error.payload == b"payload!"
    assert "asked to fail" in error.error
    assert "failed on the fail message" in error.details
    future = examples.ask_async(failing, "fail", "", timeout=10)
    assert isinstance(future.exception(timeout=30), troupe.ActorFailed)
    # RESUME: the actor goes on (hi, plus two attempts at each failed message).
    assert examples.ask(failing, "hi", timeout=10).text == "5"


def test_oversize_message_is_resource_exhausted(client):
    big = b"x" * (MAX_MESSAGE_BYTES + 1)
    with pytest.raises(troupe.ResourceExhausted) as refused:
        client.ask("hello", "text", big, timeout=10)
    assert str(MAX_MESSAGE_BYTES) in refused.value.details
    with pytest.raises(troupe.ResourceExhausted):
        client.tell("hello", "text", big)
    # Just under the limit still goes through.
    assert len(client.ask("hello", "text", b"y" * MAX_MESSAGE_BYTES, timeout=30).payload) == \
        MAX_MESSAGE_BYTES


def test_malformed_messages_are_invalid_argument(client):
    with pytest.raises(troupe.InvalidArgument):
        client.tell("hello", "", "no type")
    with pytest.raises(troupe.InvalidArgument):
        client.ask("hello", "troupe.ChildActorExited", "reserved", timeout=10)
    with pytest.raises(troupe.InvalidArgument):
        troupe.Client("")


def test_no_daemon_is_unavailable_with_a_clear_text(tmp_path):
    missing = tmp_path / "run" / "troupd.sock"
    with pytest.raises(troupe.Unavailable) as refused:
        troupe.Client(str(missing), connect_timeout=0.3)
    text = refused.value.details
    assert f"unix:{missing}" in text
    assert "no socket there" in text
    assert "director start" in text
    with pytest.raises(troupe.Unavailable, match="nothing answered"):
        troupe.Client(f"127.0.0.1:{_closed_port()}", connect_timeout=0.3)


def test_daemon_gone_mid_session_is_unavailable(make_daemon):
    d = make_daemon().start()
    with troupe.Client(d.socket) as client:
        client.status()
        d.stop()
        with pytest.raises(troupe.Unavailable, match="cannot reach troupd at unix:"):
            client.status()


def test_tcp_needs_the_client_token(make_daemon):
    d = make_daemon().start_on_free_port()
    d.director("load", env_path("TROUPE_HELLO_BUNDLE"))
    tcp = d.tcp
    with troupe.Client(tcp, token=d.token() + "\n") as client:
        assert client.ask("hello", "text", "over tcp", timeout=10).text == "over tcp"
    with pytest.raises(troupe.Unauthenticated) as refused:
        troupe.Client(tcp, token="0" * 64)
    assert refused.value.code == grpc.StatusCode.UNAUTHENTICATED
    assert "client token" in refused.value.details
    with pytest.raises(troupe.Unauthenticated):
        troupe.Client(tcp)
    with pytest.raises(troupe.InvalidArgument, match="printable ASCII"):
        troupe.Client(tcp, token="bad token")


def test_tcp_with_tls_needs_the_certificate_authority(make_daemon, tmp_path):
    pki = tmp_path / "pki"
    pki.mkdir()
    _make_certificates(pki)
    d = make_daemon()
    d.set_config("convention_tls_cert", str(pki / "server.pem"))
    d.set_config("convention_tls_key", str(pki / "server.key"))
    d.set_config("convention_tls_ca", str(pki / "ca.pem"))
    d.start_on_free_port()
    d.director("load", env_path("TROUPE_HELLO_BUNDLE"))
    ca = (pki / "ca.pem").read_text()
    with troupe.Client(d.tcp, token=d.token(), tls_root=ca) as client:
        assert client.ask("hello", "text", "tcp+tls", timeout=10).text == "tcp+tls"
    with troupe.Client(d.tcp, token=d.token(), tls_root=ca.encode()) as client:
        assert client.lookup("hello").startswith("troupe://")
    # A plain connection never gets through the TLS handshake.
    with pytest.raises(troupe.Unavailable, match="nothing answered"):
        troupe.Client(d.tcp, token=d.token(), connect_timeout=1.0)
    # Nor does one that trusts another authority.
    other = tmp_path / "other"
    other.mkdir()
    _make_certificates(other)
    with pytest.raises(troupe.Unavailable):
        troupe.Client(d.tcp, token=d.token(), tls_root=(other / "ca.pem").read_text(),
                      connect_timeout=1.0)


# ---- bundles ----

def test_load_list_and_unload_bundles(client):
    examples_bundle = env_path("TROUPE_EXAMPLES_BUNDLE")
    loaded = client.load_bundle(examples_bundle)
    assert loaded.bundle.group == "examples"
    assert loaded.bundle.version == "1.0"
    assert not loaded.already_loaded
    assert any("examples" in change for change in loaded.changes)
    assert client.load_bundle(examples_bundle).already_loaded
    assert [b.group for b in client.list_bundles("examples")] == ["examples"]
    assert sorted(b.group for b in client.list_bundles()) == ["examples", "hello"]

    unloaded = client.unload("examples")
    assert [b.hash for b in unloaded.unloaded] == [loaded.bundle.hash]
    assert client.list_bundles("examples") == []
    with pytest.raises(troupe.NotFound):
        client.unload("examples")
    with pytest.raises(troupe.NotFound):
        client.create_actor("examples", "examples.Echo")


def test_garbage_and_tampered_bundles_are_refused(client, tmp_path):
    garbage = tmp_path / "garbage.troupe"
    garbage.write_bytes(b"this is not a bundle\n" * 100)
    with pytest.raises(troupe.InvalidArgument, match="not a bundle"):
        client.load_bundle(str(garbage))

    with open(env_path("TROUPE_EXAMPLES_BUNDLE"), "rb") as f:
        data = bytearray(f.read())
    data[len(data) // 2] ^= 0xFF
    tampered = tmp_path / "tampered.troupe"
    tampered.write_bytes(bytes(data))
    with pytest.raises(troupe.FailedPrecondition):
        client.load_bundle(str(tampered))
    assert client.list_bundles("examples") == []

    with pytest.raises(FileNotFoundError, match="missing.troupe"):
        client.load_bundle(str(tmp_path / "missing.troupe"))


# ---- the daemon ----

def test_status_of_the_system_and_of_one_actor(client):
    status = client.status()
    assert status.system.node
    assert status.system.worker_threads > 0
    assert [b.group for b in status.bundles] == ["hello"]
    assert "hello" in status.text
    one = client.status("hello")
    assert len(one.actors) == 1
    assert one.actors[0].class_name == "hello.Echo"
    assert one.actors[0].address == client.lookup("hello")
    with pytest.raises(troupe.NotFound):
        client.status("nobody-has-this-name")


def test_capabilities(client):
    caps = client.capabilities()
    assert caps["troupe.cores"] > 0
    assert client.set_capability("zone", "eu")["zone"] == "eu"
    assert "zone" not in client.set_capability("zone", None)
    with pytest.raises(troupe.FailedPrecondition, match="read-only"):
        client.set_capability("troupe.cores", 1)


def test_convention_status_of_a_daemon_alone(client):
    assert client.convention_status().role == "alone"
    updates = client.convention_updates(timeout=30)
    first = next(updates)
    assert first.role == "alone"
    assert first.self == client.status().system.node
    updates.close()  # cancels the watch


def test_convention_updates_end_unavailable_when_the_daemon_stops(make_daemon):
    d = make_daemon().start()
    with troupe.Client(d.socket) as client:
        updates = client.convention_updates(timeout=60)
        assert next(updates).role == "alone"
        d.stop()
        with pytest.raises(troupe.Unavailable, match="stopping"):
            next(updates)


def _closed_port():
    # Bound and closed at once: nothing listens there.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _make_certificates(directory):
    """ca.pem (a fresh authority) and server.pem/server.key (for IP 127.0.0.1,
    signed by it), made with the openssl tool."""
    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True,
                       timeout=60)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", "-new", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=troupe-test-ca")
    (directory / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\n"
                                       "extendedKeyUsage=serverAuth,clientAuth\n"
                                       "basicConstraints=CA:FALSE\n")
    openssl("req", "-new", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj",
            "/CN=troupd")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-set_serial", "2", "-days", "2", "-extfile", "ext.cnf", "-out", "server.pem")
    os.chmod(directory / "server.key", 0o600)
