#!/usr/bin/env python3
"""Before/after figures for the websocket bounds (issue 9, items 5 and 11): runs a siohub
binary on a free port and reports its RSS, open file descriptors and established sockets.

  stall N EVENTS   N clients join room "r", shrink their receive buffer and never read;
                   a publisher sends EVENTS events of 60 KB to "r". Figures 3 s after
                   the flood and again 15 s after it (past outgoing.write_timeout_ms).
  blast SECONDS [BYTES]  one client sends unknown events (of BYTES, 10 by default) as
                   fast as it can, for SECONDS; peak RSS during the blast.

  drain            a client (small receive buffer) in room "r" gets 50 events of 60 KB
                   without reading; SIGTERM (grace_s 10); then it reads slowly. Reports
                   the events it got, whether the close frame came, and the exit time.

usage: wire_measure.py BINARY stall 200 200 | wire_measure.py BINARY blast 10 [30000]
"""

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request

KEY = b"dGhlIHNhbXBsZSBub25jZQ=="


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def frame(text):
    """A masked client text frame."""
    data = text.encode()
    mask = b"\x01\x02\x03\x04"
    head = bytearray([0x81])
    if len(data) < 126:
        head.append(0x80 | len(data))
    elif len(data) < 65536:
        head.append(0x80 | 126)
        head += len(data).to_bytes(2, "big")
    else:
        head.append(0x80 | 127)
        head += len(data).to_bytes(8, "big")
    return bytes(head) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data))


class Ws:
    def __init__(self, port, rcvbuf=None):
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect(("127.0.0.1", port))
        self.sock.sendall(
            b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"
            b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + KEY +
            b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.sock.recv(4096)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head

    def need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk

    def recv(self):
        self.need(2)
        length = self.buf[1] & 0x7F
        at = 2
        if length == 126:
            self.need(4)
            length, at = int.from_bytes(self.buf[2:4], "big"), 4
        elif length == 127:
            self.need(10)
            length, at = int.from_bytes(self.buf[2:10], "big"), 10
        self.need(at + length)
        data, self.buf = self.buf[at:at + length], self.buf[at + length:]
        return data.decode(errors="replace")

    def send(self, text):
        self.sock.sendall(frame(text))

    def text(self):
        """The next Engine.IO packet, answering pings."""
        while True:
            t = self.recv()
            if t == "2":
                self.send("3")
                continue
            return t


def sio(port, rcvbuf=None, room=None):
    ws = Ws(port, rcvbuf)
    assert ws.text().startswith("0{")
    ws.send("40")
    assert ws.text().startswith("40{")
    if room:
        ws.send('420["join","%s"]' % room)
        assert ws.text().startswith("430[")
    return ws


def figures(pid, port):
    rss = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    fds = len(os.listdir("/proc/%d/fd" % pid))
    ss = subprocess.run(["ss", "-tnH", "state", "established", "( sport = :%d )" % port],
                        capture_output=True, text=True).stdout
    metrics = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port).read().decode()
    wanted = ("siohub_connections{", "siohub_slow_consumer_disconnects_total",
              "siohub_ws_write_timeouts_total", "siohub_ws_lingering_connections",
              "siohub_ws_read_pauses_total", "siohub_ws_inflight_high_water",
              "siohub_events_received_total")
    shown = [l for l in metrics.splitlines() if l.startswith(wanted)]
    return "rss_kib=%d fds=%d established=%d | %s" % (
        rss, fds, len(ss.splitlines()), "; ".join(shown))


def stall(pid, port, clients, events):
    stalled = [sio(port, rcvbuf=4096, room="r") for _ in range(clients)]
    print("connected %d stalled clients: %s" % (clients, figures(pid, port)))
    publisher = sio(port)
    filler = "x" * 60000
    for i in range(events):
        publisher.send('42%d["publish",{"room":"r","event":"t","data":"%s"}]' % (i, filler))
        while not publisher.text().startswith("43%d[" % i):
            pass
    time.sleep(3)
    print("3 s after %d events: %s" % (events, figures(pid, port)))
    time.sleep(12)
    print("15 s after: %s" % figures(pid, port))
    del stalled


def blast(pid, port, seconds, size):
    ws = sio(port)
    one = frame('42["noise","%s"]' % ("x" * size))
    per_chunk = max(1, 65536 // len(one))
    chunk = one * per_chunk
    stop = time.time() + seconds
    peak = [0]

    def sample():
        while time.time() < stop:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        peak[0] = max(peak[0], int(line.split()[1]))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample)
    sampler.start()
    sent = 0
    while time.time() < stop:
        ws.sock.sendall(chunk)
        sent += per_chunk
    sampler.join()
    print("sent %d events in %d s; peak rss_kib=%d; now: %s" % (
        sent, seconds, peak[0], figures(pid, port)))
    ws.sock.close()


def drain(server, port):
    reader = sio(port, rcvbuf=4096, room="r")
    publisher = sio(port)
    filler = "x" * 60000
    for i in range(50):
        publisher.send('42%d["publish",{"room":"r","event":"t","data":[%d,"%s"]}]' % (i, i, filler))
        while not publisher.text().startswith("43%d[" % i):
            pass
    signalled = time.time()
    server.send_signal(15)
    events, close_frame = 0, False
    reader.sock.settimeout(15)
    try:
        while True:
            reader.need(1)
            if reader.buf[0] == 0x88:
                close_frame = True
                break
            if reader.recv().startswith('42["t"'):
                events += 1
                time.sleep(0.02)
    except (EOFError, OSError):
        pass
    code = server.wait(30)
    print("drain: %d of 50 events, close frame: %s, exit %d after %.1f s" % (
        events, close_frame, code, time.time() - signalled))


def main():
    binary, scenario = sys.argv[1], sys.argv[2]
    port = free_port()
    env = dict(os.environ, SOCKETIO_LOGGING__LEVEL="warn")
    server = subprocess.Popen([binary, "--host", "127.0.0.1", "--port", str(port)],
                              env=env, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                time.sleep(0.05)
        print("idle: %s" % figures(server.pid, port))
        if scenario == "drain":
            drain(server, port)
        elif scenario == "stall":
            stall(server.pid, port, int(sys.argv[3]), int(sys.argv[4]))
        else:
            size = int(sys.argv[4]) if len(sys.argv) > 4 else 10
            blast(server.pid, port, int(sys.argv[3]), size)
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
