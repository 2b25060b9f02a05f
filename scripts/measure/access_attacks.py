#!/usr/bin/env python3
"""Issue 9 items 1 and 4, tried against a siohub binary as a stranger would (loopback
only): prints what the stranger got. Usage: scripts/measure/access_attacks.py BINARY [ROUNDS]

- /connections without credentials: the status and how many live sids it showed;
- a stolen polling sid used from another address (127.0.0.2), with the victim's
  User-Agent: how many of ROUNDS polls, POSTs and upgrades the server took, and whether
  the victim still works after;
- a websocket upgrade with a foreign Origin while [cors] origins is an allow-list: how many
  of ROUNDS were answered 101, and how many sessions they left open.
"""

import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 50
PATH = "/socket.io/"
CONFIG = """
[cors]
origins = ["https://app.example"]
[api]
keys = ["operator-key"]
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port, head, source="127.0.0.1", body=b""):
    """Sends one request (head without the blank line); returns (status, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0)) as s:
        s.sendall(head.encode() + b"\r\n\r\n" + body)
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data:
                header, _, rest = data.partition(b"\r\n\r\n")
                status = int(header.split()[1])
                if status == 101:
                    return status, rest
                length = [l for l in header.split(b"\r\n") if l.lower().startswith(b"content-length:")]
                if length and len(rest) >= int(length[0].split(b":")[1]):
                    return status, rest
        header, _, rest = data.partition(b"\r\n\r\n")
        return (int(header.split()[1]) if header else 0), rest


def get(port, target, headers="", source="127.0.0.1"):
    return request(port, f"GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close{headers}", source)


def post(port, target, body, source="127.0.0.1"):
    head = (f"POST {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
            f"User-Agent: victim/1\r\nContent-Length: {len(body)}")
    return request(port, head, source, body.encode())


def upgrade(port, query, origin=None, source="127.0.0.1"):
    key = base64.b64encode(os.urandom(16)).decode()
    head = (
        f"GET {PATH}?{query} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13"
    )
    if origin:
        head += f"\r\nOrigin: {origin}"
    status, _ = request(port, head, source)
    return status


def open_polling(port):
    status, body = get(port, f"{PATH}?EIO=4&transport=polling", "\r\nUser-Agent: victim/1")
    assert status == 200, (status, body)
    return json.loads(body[1:])["sid"]


def main():
    binary = sys.argv[1]
    port = free_port()
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
        f.write(CONFIG)
    server = subprocess.Popen([binary, "--config", f.name, "--port", str(port), "--host", "127.0.0.1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                if get(port, "/health")[0] == 200:
                    break
            except OSError:
                time.sleep(0.05)
        victims = [open_polling(port) for _ in range(3)]

        status, body = get(port, "/connections?limit=1000")
        shown = sum(body.decode(errors="replace").count(v) for v in victims)
        print(f"/connections without credentials: HTTP {status}, {shown} of {len(victims)} live sids shown")

        taken = {"poll": 0, "post": 0, "upgrade": 0}
        for i in range(ROUNDS):
            victim = open_polling(port)
            q = f"{PATH}?EIO=4&transport=polling&sid={victim}"
            if post(port, q, "40", source="127.0.0.2")[0] == 200:
                taken["post"] += 1
            # The stranger polls: with the victim's GET not pending, it reads the queue.
            if get(port, q, "\r\nUser-Agent: victim/1", source="127.0.0.2")[0] == 200:
                taken["poll"] += 1
            if upgrade(port, f"EIO=4&transport=websocket&sid={victim}", source="127.0.0.2") == 101:
                taken["upgrade"] += 1
        print(f"stolen sid from 127.0.0.2, {ROUNDS} sessions: POST taken {taken['post']}, "
              f"poll taken {taken['poll']}, upgrade answered 101 {taken['upgrade']}")
        victim = open_polling(port)
        q = f"{PATH}?EIO=4&transport=polling&sid={victim}"
        upgrade(port, f"EIO=4&transport=websocket&sid={victim}", source="127.0.0.2")
        ok = post(port, q, "40")[0] == 200 and get(port, q, "\r\nUser-Agent: victim/1")[0] == 200
        print(f"victim after a stranger's probe: {'still works' if ok else 'broken'}")

        before = json.loads(get(port, "/health")[1])["connections"]
        accepted = sum(
            upgrade(port, "EIO=4&transport=websocket", origin="https://evil.example") == 101
            for _ in range(ROUNDS)
        )
        allowed = upgrade(port, "EIO=4&transport=websocket", origin="https://app.example") == 101
        time.sleep(0.2)
        after = json.loads(get(port, "/health")[1])["connections"]
        print(f"foreign-Origin upgrades: {accepted} of {ROUNDS} answered 101; "
              f"allowed origin answered 101: {allowed}; sessions before/after {before}/{after}")
    finally:
        server.terminate()
        server.wait(timeout=15)
        os.unlink(f.name)


if __name__ == "__main__":
    main()
