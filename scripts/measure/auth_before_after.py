#!/usr/bin/env python3
"""Before/after figures of issue 9 item 3 (tokens) for two siohub binaries.

Usage: python3 scripts/measure/auth_before_after.py BEFORE AFTER   (the standard library only)

For each binary: whether a 6-byte jwt_secret starts; how many of 9 malformed or forged
tokens a require_auth namespace accepts; whether a CONNECT with another user's token (and
with no token, where tokens are optional) plus alice's pid/offset recovers alice's socket
and her missed event; whether an https webhook URL is accepted at start-up. For AFTER only
(the keys do not exist before): 30 tokens with random kids against a JWKS served over
https, and how many times the JWKS server was fetched. Everything listens on 127.0.0.1.
"""

import base64
import hashlib
import hmac
import http.server
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid

import struct

SECRET = "measure-secret-of-at-least-32-bytes!"
API_KEY = "measure-api-key"
HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "..", "tests", "fixtures")


def b64(data):
    if isinstance(data, (dict, list)):
        data = json.dumps(data).encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256(claims, secret=SECRET, header=None):
    head = b64(header or {"alg": "HS256", "typ": "JWT"})
    body = b64(claims)
    mac = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(mac)}"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(binary, config_text, env=None):
    port = free_port()
    config = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
    config.write(config_text)
    config.close()
    proc = subprocess.Popen(
        [binary, "--config", config.name, "--port", str(port), "--host", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {}), "SOCKETIO_LOGGER_LEVEL": "error"},
    )
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            return proc, port
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(proc.stderr.read().decode())
            time.sleep(0.05)
    raise RuntimeError("the server did not start")


def stop(proc):
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


class Ws:
    """A minimal websocket client (text frames, no extensions): enough for Engine.IO."""

    def __init__(self, port, target):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.sock.recv(4096)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, text):
        data = text.encode()
        mask = os.urandom(4)
        n = len(data)
        if n < 126:
            head = struct.pack("!BB", 0x81, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x81, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.sock.sendall(head + mask + masked)

    def receive(self, timeout=5):
        self.sock.settimeout(timeout)
        try:
            while True:
                b0, b1 = self._read(2)
                n = b1 & 0x7F
                if n == 126:
                    (n,) = struct.unpack("!H", self._read(2))
                elif n == 127:
                    (n,) = struct.unpack("!Q", self._read(8))
                payload = self._read(n)
                opcode = b0 & 0x0F
                if opcode == 1:
                    return payload.decode()
                if opcode == 8:
                    return None
        except (socket.timeout, ConnectionError):
            return None

    def close(self):
        self.sock.close()


def connect(port, nsp, auth):
    """CONNECT over a raw websocket: (ws, ok, reply JSON)."""
    ws = Ws(port, "/socket.io/?EIO=4&transport=websocket")
    assert ws.receive(timeout=5).startswith("0")
    ws.send(f"40{nsp},{json.dumps(auth)}")
    while True:
        text = ws.receive(timeout=5)
        if text == "2":
            ws.send("3")
            continue
        ok = text.startswith(f"40{nsp},")
        return ws, ok, json.loads(text.split(",", 1)[1])


def next_event(ws, nsp, timeout=1.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        text = ws.receive(timeout=max(0.01, deadline - time.time()))
        if text is None:
            return None
        if text == "2":
            ws.send("3")
        elif text.startswith(f"42{nsp},"):
            return json.loads(text.split(",", 1)[1])
    return None


def emit(port, nsp, room, data):
    body = json.dumps({"namespace": nsp, "rooms": [room], "event": "private", "data": data})
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/emit",
        data=body.encode(),
        headers={"content-type": "application/json", "x-api-key": API_KEY},
    )
    return json.loads(urllib.request.urlopen(request, timeout=5).read())


HUB = f"""
[[namespaces]]
name = "/private"
require_auth = true
recovery_s = 60

[[namespaces]]
name = "/optional"
recovery_s = 60

[auth]
jwt_secret = "{SECRET}"

[api]
keys = ["{API_KEY}"]
"""


def short_secret(binary):
    out = subprocess.run(
        [binary, "--print-config"],
        env={**os.environ, "SOCKETIO_AUTH__JWT_SECRET": "s3cret"},
        capture_output=True,
        text=True,
    )
    return out.returncode, out.stderr.strip()


def https_webhook(binary):
    out = subprocess.run(
        [binary, "--print-config"],
        env={**os.environ, "SOCKETIO_WEBHOOK__URL": "https://127.0.0.1:9/hook"},
        capture_output=True,
        text=True,
    )
    return out.returncode, out.stderr.strip()


def malformed(port):
    now = int(time.time())
    tokens = {
        "exp=\"never\"": hs256({"sub": "x", "exp": "never"}),
        "exp=-1": hs256({"sub": "x", "exp": -1}),
        "exp=[1]": hs256({"sub": "x", "exp": [1]}),
        "exp=null": hs256({"sub": "x", "exp": None}),
        "nbf=\"later\"": hs256({"sub": "x", "nbf": "later"}),
        "nbf=-5": hs256({"sub": "x", "nbf": -5}),
        "expired": hs256({"sub": "x", "exp": now - 3600}),
        "alg=none": f"{b64({'alg': 'none'})}.{b64({'sub': 'admin'})}.",
        "wrong secret": hs256({"sub": "x"}, secret="a-guess-at-the-secret-of-32-bytes"),
    }
    accepted = []
    for name, token in tokens.items():
        ws, ok, _ = connect(port, "/private", {"token": token})
        ws.close()
        if ok:
            accepted.append(name)
    return len(tokens), accepted


def alice_drops_out(port, nsp):
    now = int(time.time())
    ws, ok, reply = connect(port, nsp, {"token": hs256({"sub": "alice", "exp": now + 3600})})
    assert ok, reply
    time.sleep(0.2)
    emit(port, nsp, "user:alice", "seen")
    event = next_event(ws, nsp, 5)
    offset = event[2]
    ws.close()
    time.sleep(0.5)
    emit(port, nsp, "user:alice", "missed")
    return reply["sid"], reply["pid"], offset


def recovery(port):
    now = int(time.time())
    results = {}
    sid, pid, offset = alice_drops_out(port, "/private")
    mallory = hs256({"sub": "mallory", "exp": now + 3600})
    ws, ok, reply = connect(port, "/private", {"pid": pid, "offset": offset, "token": mallory})
    got = next_event(ws, "/private") if ok else None
    results["mallory's token + alice's pid (require_auth)"] = (
        f"sid {'= alice' if reply.get('sid') == sid else 'fresh'}, "
        f"missed event {'delivered' if got and got[1] == 'missed' else 'not delivered'}"
    )
    ws.close()
    sid, pid, offset = alice_drops_out(port, "/optional")
    ws, ok, reply = connect(port, "/optional", {"pid": pid, "offset": offset})
    got = next_event(ws, "/optional") if ok else None
    results["no token + alice's pid (tokens optional)"] = (
        f"sid {'= alice' if reply.get('sid') == sid else 'fresh'}, "
        f"missed event {'delivered' if got and got[1] == 'missed' else 'not delivered'}"
    )
    ws.close()
    return results


def metric(port, name):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    for line in text.splitlines():
        if line.startswith(name):
            return line.rsplit(" ", 1)[1]
    return "absent"


class Jwks(http.server.BaseHTTPRequestHandler):
    fetches = 0

    def do_GET(self):
        Jwks.fetches += 1
        body = open(os.path.join(FIXTURES, "jwks.json"), "rb").read()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def jwks_random_kids(binary, n=30):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(
        os.path.join(FIXTURES, "tls", "server.pem"), os.path.join(FIXTURES, "tls", "server.key")
    )
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"https://127.0.0.1:{server.server_address[1]}/jwks"
    config = f"""
[[namespaces]]
name = "/private"
require_auth = true

[auth]
jwks_url = "{url}"

[http_client]
ca_file = "{os.path.join(FIXTURES, 'tls', 'ca.pem')}"
"""
    proc, port = start(binary, config)
    try:
        refused = 0
        for _ in range(n):
            head = b64({"alg": "RS256", "typ": "JWT", "kid": str(uuid.uuid4())})
            token = f"{head}.{b64({'sub': 'a'})}.c2ln"
            ws, ok, _ = connect(port, "/private", {"token": token})
            ws.close()
            refused += not ok
        throttled = metric(port, 'siohub_refused_total{reason="jwks_refresh_throttled"}')
        return refused, Jwks.fetches, throttled
    finally:
        stop(proc)
        server.shutdown()


def measure(label, binary):
    print(f"== {label}: {binary}")
    code, err = short_secret(binary)
    print(f"  jwt_secret of 6 bytes: exit {code} {err!r}")
    code, err = https_webhook(binary)
    print(f"  webhook.url = https://..: exit {code} {err[:160]!r}")
    proc, port = start(binary, HUB)
    try:
        total, accepted = malformed(port)
        print(f"  malformed/forged tokens accepted: {len(accepted)} of {total} {accepted}")
        print(
            "  siohub_refused_total{reason=\"token_invalid\"}: "
            + metric(port, 'siohub_refused_total{reason="token_invalid"}')
        )
        for case, outcome in recovery(port).items():
            print(f"  recovery, {case}: {outcome}")
    finally:
        stop(proc)


def main():
    before, after = sys.argv[1], sys.argv[2]
    measure("before", before)
    measure("after", after)
    refused, fetches, throttled = jwks_random_kids(after)
    print(
        f"  after only: 30 random-kid tokens: {refused} refused, JWKS fetched {fetches} times, "
        f"jwks_refresh_throttled = {throttled}"
    )


if __name__ == "__main__":
    main()
