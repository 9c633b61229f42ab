#!/usr/bin/python3
"""python_ask_bench.py - ask RTT of the Python client (troupe.Client.ask)
next to the C++ client (troupe::Client::Ask, the sdk_ask_rtt program) against
one troupd process, in the same run: each asks the hello bundle's echo actor.

    /usr/bin/python3 tests/bench/python_ask_bench.py --build-dir build/release [--quick]

Takes everything from the build directory (troupd, director, the hello
bundle, the build-tree key, sdk_ask_rtt, the troupe package in python/).
The two clients take turns (C++, Python, C++, Python, ...) so that drift of
the machine hits both alike; each figure is the median of its rounds' p50s.
Prints "RESULT <name> <value> <unit>" lines, the last one
"RESULT ratio_python_ask_vs_sdk_p50 <python/C++> x" (lower is better).
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", required=True, help="the CMake build directory")
    parser.add_argument("--quick", action="store_true", help="a smoke run: few asks")
    parser.add_argument("--rounds", type=int, default=None, help="turns per client")
    parser.add_argument("--count", type=int, default=None, help="timed asks per turn")
    return parser.parse_args()


def result(name, value, unit):
    print(f"RESULT {name} {value:.2f} {unit}", flush=True)


def percentile(samples, p):
    ordered = sorted(samples)
    return ordered[int(p * (len(ordered) - 1))]


class Paths:
    def __init__(self, build):
        self.build = os.path.abspath(build)
        self.troupd = os.path.join(self.build, "daemon/troupd/troupd")
        self.director = os.path.join(self.build, "director/director")
        self.hello = os.path.join(self.build, "plugins/hello/hello-1.0.troupe")
        self.key = os.path.join(self.build, "troupe-keys/build.pub")
        self.sdk_ask_rtt = os.path.join(self.build, "tests/bench/sdk_ask_rtt")
        self.python = os.path.join(self.build, "python")
        for path in (self.troupd, self.director, self.hello, self.key, self.sdk_ask_rtt,
                     self.python):
            if not os.path.exists(path):
                sys.exit(f"python_ask_bench: {path} is missing: build the project in "
                         f"{self.build} first")


def start_daemon(paths, troupe_dir, log):
    """troupd serving troupe_dir with the hello bundle loaded; waits (bounded)
    until it answers."""
    import troupe

    os.makedirs(os.path.join(troupe_dir, "config"))
    subprocess.run([paths.director, "--dir", troupe_dir, "trust", paths.key], check=True,
                   capture_output=True)
    process = subprocess.Popen([paths.troupd, "--dir", troupe_dir, "--die-with-parent"],
                               stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    socket_path = os.path.join(troupe_dir, "run", "troupd.sock")
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            sys.exit(f"python_ask_bench: troupd exited with {process.returncode}")
        try:
            with troupe.Client(socket_path, connect_timeout=0.25) as client:
                client.load_bundle(paths.hello)
            return process, socket_path
        except troupe.Unavailable:
            if time.monotonic() > deadline:
                process.kill()
                sys.exit("python_ask_bench: troupd did not answer within 60 s")


def sdk_p50(paths, socket_path, warmup, count):
    out = subprocess.run([paths.sdk_ask_rtt, socket_path, "hello", str(warmup), str(count)],
                         check=True, capture_output=True, text=True, timeout=600).stdout
    for line in out.splitlines():
        fields = line.split()
        if fields[:2] == ["RESULT", "sdk_ask_rtt_p50"]:
            return float(fields[2])
    sys.exit(f"python_ask_bench: sdk_ask_rtt printed no p50:\n{out}")


def python_rtts(client, warmup, count):
    for _ in range(warmup):
        client.ask("hello", "text", "ping", timeout=10)
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        client.ask("hello", "text", "ping", timeout=10)
        samples.append((time.perf_counter() - start) * 1e6)
    return samples


def main():
    args = parse_args()
    paths = Paths(args.build_dir)
    sys.path.insert(0, paths.python)
    import troupe

    rounds = args.rounds or (1 if args.quick else 5)
    count = args.count or (100 if args.quick else 2000)
    warmup = max(10, count // 10)
    with tempfile.TemporaryDirectory(prefix="troupe-pybench-") as root:
        with open(os.path.join(root, "troupd.log"), "ab") as log:
            process, socket_path = start_daemon(paths, os.path.join(root, "troupe"), log)
            try:
                sdk, python, python_all = [], [], []
                with troupe.Client(socket_path) as client:
                    for _ in range(rounds):
                        sdk.append(sdk_p50(paths, socket_path, warmup, count))
                        samples = python_rtts(client, warmup, count)
                        python.append(percentile(samples, 0.5))
                        python_all.extend(samples)
            finally:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=60)
    sdk_median = statistics.median(sdk)
    python_median = statistics.median(python)
    result("sdk_ask_rtt_p50", sdk_median, "us")
    result("python_ask_rtt_p50", python_median, "us")
    result("python_ask_rtt_p99", percentile(python_all, 0.99), "us")
    result("ratio_python_ask_vs_sdk_p50", python_median / sdk_median, "x")


if __name__ == "__main__":
    main()
