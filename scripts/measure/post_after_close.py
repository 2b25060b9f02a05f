#!/usr/bin/env python3
"""How a polling POST is answered when its session closes while the body is coming in.

Against a conformance server (ping 300/200 ms): open a polling session, start a POST of
`42["message",n]` with a chunked body, send nothing else (no GET, no pong), wait until the
session has timed out, then finish the body. Counts the answers: `ok` means the server took
an event it then dropped (the client believes it arrived); 400 tells the client.

    scripts/measure/post_after_close.py [host:port=127.0.0.1:3000] [runs=20] [wait_s=1.5]
"""
import json
import socket
import sys
import time

addr = (sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:3000").rsplit(":", 1)
host, port = addr[0], int(addr[1])
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 20
wait_s = float(sys.argv[3]) if len(sys.argv) > 3 else 1.5
path = "/socket.io/?EIO=4&transport=polling"


def request(head, body=b""):
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(head.encode() + body)
        return read_all(s)


def read_all(s):
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data.decode(errors="replace")
        data += chunk


def chunk(data):
    return b"%x\r\n" % len(data) + data + b"\r\n"


answers = {}
for n in range(runs):
    reply = request(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    sid = json.loads(reply.split("\r\n\r\n", 1)[1][1:])["sid"]
    s = socket.create_connection((host, port), timeout=10)
    s.sendall(
        f"POST {path}&sid={sid} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        "Transfer-Encoding: chunked\r\n\r\n".encode()
        + chunk(b'42["mess')
    )
    time.sleep(wait_s)
    s.sendall(chunk(f'age",{n}]'.encode()) + chunk(b""))
    answer = read_all(s)
    s.close()
    status = answer.split("\r\n", 1)[0].split(" ", 2)[1] if answer else "no answer"
    body = answer.split("\r\n\r\n", 1)[1] if "\r\n\r\n" in answer else ""
    key = f"{status} {body.strip()[:60]}"
    answers[key] = answers.get(key, 0) + 1
print(json.dumps({"runs": runs, "answers": answers}))
