"""The SSE ack stream of POST /api/v1/emit read by a real HTTP client (requests, stream=True)
while two python-socketio clients answer: one at once, one only after the script has read the
first ack from the stream (so the stream must deliver acks as they arrive, not at the end).

    python api_sse_ack.py <base url> <api key>

Prints ONE JSON line: {"ok":true,"events":[...]} (exit 0) or {"ok":false,"error":..} (exit 1).
Used by tests/it/api_http.rs.
"""

import json
import sys
import threading

import requests
import socketio

base, key = sys.argv[1].rstrip('/'), sys.argv[2]
ROOM = 'py-acks'


def fail(why, **extra):
    print(json.dumps({'ok': False, 'error': why, **extra}))
    sys.exit(1)


def client(name, answer):
    c = socketio.Client(reconnection=False)
    c.on('vote', answer)
    c.connect(base, transports=['websocket'], wait_timeout=10)
    reply = c.call('join', ROOM, timeout=10)
    if not (isinstance(reply, dict) and reply.get('ok')):
        fail(f'{name} could not join: {reply!r}')
    return c


go = threading.Event()
fast = client('fast', lambda data: {'from': 'fast', 'got': data})


def slow_answer(data):
    # The sync client runs each handler on its own thread: waiting here blocks nothing else.
    go.wait(10)
    return {'from': 'slow'}


slow = client('slow', slow_answer)
try:
    response = requests.post(
        f'{base}/api/v1/emit',
        json={'rooms': ROOM, 'event': 'vote', 'data': 7, 'ack': True, 'timeout_ms': 10000},
        headers={'Accept': 'text/event-stream', 'X-API-Key': key},
        stream=True,
        timeout=15,
    )
    if response.status_code != 200:
        fail(f'status {response.status_code}', body=response.text)
    if not response.headers.get('content-type', '').startswith('text/event-stream'):
        fail(f'content-type {response.headers.get("content-type")!r}')

    events, name = [], None
    for line in response.iter_lines(chunk_size=64, decode_unicode=True):
        if line.startswith('event: '):
            name = line[len('event: '):]
        elif line.startswith('data: '):
            data = json.loads(line[len('data: '):])
            events.append({'event': name, 'data': data})
            if len(events) == 1:
                # Only now may the slow client answer.
                if name != 'ack' or data != {'sid': fast.get_sid(), 'data': {'from': 'fast', 'got': 7}}:
                    fail('the first event is not the fast ack', events=events)
                go.set()
        elif line and not line.startswith(':'):
            fail(f'unexpected line {line!r}')
    expected = [
        {'event': 'ack', 'data': {'sid': fast.get_sid(), 'data': {'from': 'fast', 'got': 7}}},
        {'event': 'ack', 'data': {'sid': slow.get_sid(), 'data': {'from': 'slow'}}},
        {'event': 'done', 'data': {'recipients': 2, 'acked': 2, 'timeouts': 0}},
    ]
    if events != expected:
        fail('wrong events', events=events, expected=expected)
    print(json.dumps({'ok': True, 'events': events}))
finally:
    go.set()
    fast.disconnect()
    slow.disconnect()
