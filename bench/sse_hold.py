#!/usr/bin/env python3
"""Opens and holds many legacy SSE sessions (GET /sse) for scripts/bench.sh.

Usage: sse_hold.py HOST:PORT COUNT

Opens COUNT connections one after another, reads each one's `endpoint` event, prints
{"opened": n, "failed": f, "secs": t} and then obeys commands on stdin, one per line:

  check SECS   read every stream for up to SECS seconds; report how many are still open,
               how many got a keep-alive comment in that window, and whether a sample of
               sessions still answers a JSON-RPC ping sent to its /messages endpoint
               (which proves the stream's writer works, not just that the socket is open).

Each answer is one JSON line on stdout. Stdin closing closes every stream and exits.
Standard library only; loopback only.
"""

import json
import selectors
import socket
import sys
import time

PROBES = 5


def open_stream(host, port):
    """Opens one stream; returns (socket, endpoint path) or raises OSError."""
    s = socket.create_connection((host, port), timeout=10)
    s.sendall(
        f"GET /sse HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n\r\n".encode()
    )
    buf = b""
    while True:
        head, sep, rest = buf.partition(b"\r\n\r\n")
        if sep and (b"\n\n" in rest or not head.startswith(b"HTTP/1.1 200")):
            break
        chunk = s.recv(4096)
        if not chunk:
            raise OSError("closed before the endpoint event")
        buf += chunk
    if not head.startswith(b"HTTP/1.1 200"):
        raise OSError(head.split(b"\r\n", 1)[0].decode(errors="replace"))
    endpoint = ""
    for line in rest.decode(errors="replace").splitlines():
        if line.startswith("data: "):
            endpoint = line[6:].strip()
            break
    s.setblocking(False)
    return s, endpoint


def post(host, port, path, body):
    """POSTs body to path on a new connection; returns the status code."""
    with socket.create_connection((host, port), timeout=10) as c:
        c.sendall(
            (
                f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}"
            ).encode()
        )
        reply = b""
        while b"\r\n" not in reply:
            chunk = c.recv(4096)
            if not chunk:
                break
            reply += chunk
    try:
        return int(reply.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0


def check(host, port, streams, window):
    """Reads all streams for `window` seconds; pings a sample through /messages."""
    sel = selectors.DefaultSelector()
    for i, (s, _) in enumerate(streams):
        if s is not None:
            sel.register(s, selectors.EVENT_READ, i)
    got_keepalive, dead, answered = set(), set(), set()
    probes = [i for i, (s, _) in enumerate(streams) if s is not None][:PROBES]
    statuses = []
    for n, i in enumerate(probes):
        ping = json.dumps({"jsonrpc": "2.0", "id": 900 + n, "method": "ping"})
        statuses.append(post(host, port, streams[i][1], ping))
    deadline = time.monotonic() + window
    while time.monotonic() < deadline:
        for key, _ in sel.select(timeout=max(0.0, deadline - time.monotonic())):
            i = key.data
            try:
                data = key.fileobj.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                dead.add(i)
                sel.unregister(key.fileobj)
                continue
            if b": keep-alive" in data:
                got_keepalive.add(i)
            if b"event: message" in data:
                answered.add(i)
        alive_now = sum(1 for s, _ in streams if s is not None) - len(dead)
        if len(got_keepalive) >= alive_now and len(answered) >= len(probes):
            break
    sel.close()
    for i in dead:
        streams[i][0].close()
        streams[i] = (None, streams[i][1])
    return {
        "open": sum(1 for s, _ in streams if s is not None),
        "closed_by_server": len(dead),
        "got_keepalive": len(got_keepalive),
        "probes": len(probes),
        "probe_post_status": statuses,
        "probe_answered_on_stream": len(answered & set(probes)),
    }


def main():
    if len(sys.argv) != 3:
        print("usage: sse_hold.py HOST:PORT COUNT", file=sys.stderr)
        return 2
    host, port = sys.argv[1].rsplit(":", 1)
    port, count = int(port), int(sys.argv[2])
    streams, failed, errors = [], 0, {}
    t0 = time.monotonic()
    for _ in range(count):
        try:
            streams.append(open_stream(host, port))
        except OSError as e:
            failed += 1
            errors[str(e)] = errors.get(str(e), 0) + 1
    print(
        json.dumps(
            {
                "opened": len(streams),
                "failed": failed,
                "errors": errors,
                "secs": round(time.monotonic() - t0, 3),
            }
        ),
        flush=True,
    )
    for line in sys.stdin:
        parts = line.split()
        if parts[:1] == ["check"]:
            window = float(parts[1]) if len(parts) > 1 else 5.0
            print(json.dumps(check(host, port, streams, window)), flush=True)
    for s, _ in streams:
        if s is not None:
            s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
