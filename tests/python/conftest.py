"""Fixtures for the Python client tests: real troupd processes, each in a
temporary TROUPE_DIR that trusts the build-tree key (as tests/e2e/
daemon_harness.h does for the C++ tests).

Paths come from the environment that ctest sets (tests/python/CMakeLists.txt):
TROUPD_PATH, TROUPE_DIRECTOR_PATH, TROUPE_BUILD_PUBLIC_KEY,
TROUPE_HELLO_BUNDLE, TROUPE_EXAMPLES_BUNDLE, and PYTHONPATH=<build>/python.

Nothing here sleeps to synchronise: waits poll a condition (the daemon
answers, the process exited) against a deadline.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

import troupe

# A daemon under a sanitizer starts slowly on a busy 2-core machine.
START_SECONDS = 60.0
STOP_SECONDS = 60.0


def env_path(name):
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run these tests through ctest "
                    "(tests/python/CMakeLists.txt sets it)")
    return value


def free_loopback_port():
    """A port nothing listens on right now (the caller retries on a race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    """One troupd serving <root>/troupe, started with --die-with-parent so
    that none outlives the test run."""

    def __init__(self, root):
        self.root = str(root)
        self.dir = os.path.join(self.root, "troupe")
        self.log = os.path.join(self.root, "troupd.log")
        self.process = None
        self.tcp = ""  # host:port of the TCP listener, when configured
        os.makedirs(os.path.join(self.dir, "config"))
        self.set_config("drain_timeout_seconds", "5")
        self.director("trust", env_path("TROUPE_BUILD_PUBLIC_KEY"))

    @property
    def socket(self):
        return os.path.join(self.dir, "run", "troupd.sock")

    def set_config(self, name, value):
        with open(os.path.join(self.dir, "config", name), "w") as f:
            f.write(value + "\n")

    def director(self, *args):
        """Runs director --dir DIR ARGS; fails the test on a non-zero exit."""
        result = subprocess.run([env_path("TROUPE_DIRECTOR_PATH"), "--dir", self.dir, *args],
                                cwd=self.root, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            pytest.fail(f"director {' '.join(args)} exited {result.returncode}:\n"
                        f"{result.stdout}{result.stderr}")
        return result.stdout

    def token(self):
        with open(os.path.join(self.dir, "keys", "client.token")) as f:
            return f.read().strip()

    def start(self):
        """Starts troupd and waits until it answers on its socket."""
        assert self.process is None, "troupd already started"
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [env_path("TROUPD_PATH"), "--dir", self.dir, "--die-with-parent"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                self.process = None
                pytest.fail(f"troupd exited with {code} while starting:\n{self.read_log()}")
            try:
                with troupe.Client(self.socket, connect_timeout=0.25) as client:
                    client.status()
                return self
            except troupe.Unavailable:
                continue  # not listening yet: poll again until the deadline
        self.kill()
        pytest.fail(f"troupd did not answer within {START_SECONDS:g} s:\n{self.read_log()}")

    def start_on_free_port(self):
        """Starts with listen_tcp = 127.0.0.1:<a free port> (a fixed port, as a
        convention needs), trying another port when this one was taken."""
        for _ in range(5):
            self.tcp = f"127.0.0.1:{free_loopback_port()}"
            self.set_config("listen_tcp", self.tcp)
            size = os.path.getsize(self.log) if os.path.exists(self.log) else 0
            try:
                return self.start()
            except pytest.fail.Exception:
                if "cannot listen" not in self.read_log()[size:]:
                    raise
        pytest.fail("no free port on 127.0.0.1 after 5 tries")

    def stop(self):
        """SIGTERM, then waits for a clean exit (status 0)."""
        if self.process is None:
            return
        process, self.process = self.process, None
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail(f"troupd did not stop within {STOP_SECONDS:g} s:\n{self.read_log()}")
        assert code == 0, f"troupd exited with {code}:\n{self.read_log()}"

    def kill(self):
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def read_log(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


@pytest.fixture
def make_daemon():
    """A factory of Daemons (not started), each in a directory of its own
    under a short temporary root (a unix socket path has at most 107 bytes);
    every one still running at the end is stopped (and must exit cleanly),
    then the root is removed."""
    root = tempfile.mkdtemp(prefix="troupe-py-")
    daemons = []

    def make(name="d"):
        daemon = Daemon(os.path.join(root, name))
        daemons.append(daemon)
        return daemon

    try:
        yield make
    finally:
        # Members before the first daemon (a convention's leader).
        for daemon in reversed(daemons):
            daemon.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def daemon(make_daemon):
    """A running troupd with the hello bundle loaded (hello.Echo named
    "hello")."""
    d = make_daemon().start()
    d.director("load", env_path("TROUPE_HELLO_BUNDLE"))
    return d


@pytest.fixture
def client(daemon):
    with troupe.Client(daemon.socket) as c:
        yield c


@pytest.fixture
def examples(client):
    """The client with the examples bundle loaded through it."""
    client.load_bundle(env_path("TROUPE_EXAMPLES_BUNDLE"))
    return client
