#!/usr/bin/env python3
"""Start-up time of the server for scripts/bench.sh: from exec to the first 200 on /health.

Usage: startup.py RUNS PORT BINARY [ARGS...]   (the server's settings come from the
environment, which must set SERVER_PORT=PORT)

Each run starts the binary, polls GET /health in a tight loop (a refused connection is
retried at once), records the time to the first 200, then kills the process. Prints
{"runs": [...ms], "median_ms": m, "min_ms": a, "max_ms": b} as one JSON line.
Standard library only; loopback only.
"""

import json
import socket
import statistics
import subprocess
import sys
import time

REQUEST = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"


def health_ok(port):
    """True when /health answers 200; False when not listening yet."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(REQUEST)
            reply = s.recv(64)
    except OSError:
        return False
    return reply.startswith(b"HTTP/1.1 200")


def one_run(cmd, port, limit=10.0):
    """Milliseconds from exec to the first 200, or raises RuntimeError."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    try:
        while not health_ok(port):
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with {proc.returncode} before answering")
            if time.perf_counter() - t0 > limit:
                raise RuntimeError(f"no 200 on /health within {limit} s")
        return (time.perf_counter() - t0) * 1000.0
    finally:
        proc.kill()
        proc.wait()


def main():
    if len(sys.argv) < 4:
        print("usage: startup.py RUNS PORT BINARY [ARGS...]", file=sys.stderr)
        return 2
    runs, port, cmd = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
    times = []
    for _ in range(runs):
        times.append(one_run(cmd, port))
        time.sleep(0.05)
    print(
        json.dumps(
            {
                "runs": [round(t, 2) for t in times],
                "median_ms": round(statistics.median(times), 2),
                "min_ms": round(min(times), 2),
                "max_ms": round(max(times), 2),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
