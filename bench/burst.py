#!/usr/bin/env python3
"""Do simultaneous new connections all get served? For scripts/bench.sh.

Usage: burst.py HOST:PORT [CONNECTIONS] [ROUNDS]   (defaults 64 and 1)

Each round opens CONNECTIONS keep-alive connections at once (as wrk, a browser or a load
balancer does), sends GET /health on each, and counts those answered within 2 s; then
closes them and waits 8 s (so idle server threads can wind down between rounds). Prints
{"connections": n, "answered": [per round], "min_answered": m} as one JSON line.
Standard library only; loopback only.
"""

import json
import select
import socket
import sys
import time


def one_round(host, port, n):
    """How many of n simultaneous connections get an answer within 2 s."""
    req = f"GET /health HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    # Non-blocking connects, all at once, as wrk opens its connections.
    conns = []
    for _ in range(n):
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex((host, port))
        conns.append(c)
    pending, deadline = list(conns), time.monotonic() + 5
    while pending and time.monotonic() < deadline:
        _, ready, _ = select.select([], pending, [], 0.1)
        pending = [c for c in pending if c not in ready]
    for c in conns:
        c.setblocking(True)
        c.sendall(req)
    answered, deadline = set(), time.monotonic() + 2
    while len(answered) < n and time.monotonic() < deadline:
        waiting = [c for c in conns if c not in answered]
        ready, _, _ = select.select(waiting, [], [], 0.1)
        for c in ready:
            if c.recv(65536):
                answered.add(c)
    for c in conns:
        c.close()
    return len(answered)


def main():
    if len(sys.argv) < 2:
        print("usage: burst.py HOST:PORT [CONNECTIONS] [ROUNDS]", file=sys.stderr)
        return 2
    host, port = sys.argv[1].rsplit(":", 1)
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 64
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    results = []
    for r in range(rounds):
        if r:
            time.sleep(8)
        results.append(one_round(host, int(port), n))
    print(json.dumps({"connections": n, "answered": results, "min_answered": min(results)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
