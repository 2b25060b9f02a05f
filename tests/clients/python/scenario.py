"""Real-client scenarios for siohub, using python-socketio's synchronous Client.

    python scenario.py <scenario> <url> <transport>

    scenario:  connect | echo | ack | server-ack | binary | namespace-auth |
               refused-namespace | disconnect-reconnect
    url:       base URL of the scenario server, e.g. http://127.0.0.1:3000 (path /socket.io/)
    transport: polling | websocket | upgrade

Prints exactly one JSON line on stdout:
    {"ok":true,"scenario":..,"transport":..,"sids":[..],"details":{..}}   exit 0
    {"ok":false,"scenario":..,"transport":..,"error":"..","sids":[..]}    exit 1
"""

import json
import os
import queue
import sys
import threading
import time
import traceback

import engineio.packet
import engineio.payload
import socketio

# python-engineio's client refuses a polling response holding more than 16 packets
# ("Too many packets in payload", Payload.max_decode_packets = 16) and drops the connection;
# Node's engine.io server (and so the reference) batches every queued packet into one
# response, so a burst of 20 events breaks a stock Python client on polling. We raise the cap,
# as python-engineio's maintainer recommends. SCENARIO_PY_STOCK_LIMIT=1 keeps the stock 16
# (useful to check a server that caps packets per polling response).
if os.environ.get('SCENARIO_PY_STOCK_LIMIT') != '1':
    engineio.payload.Payload.max_decode_packets = 256

SCENARIO_TIMEOUT_S = 15.0
STEP_TIMEOUT_S = 5.0
TRANSPORTS = ('polling', 'websocket', 'upgrade')

args = sys.argv[1:]
scenario = args[0] if len(args) > 0 else None
raw_url = args[1].rstrip('/') if len(args) > 1 else None
transport = args[2] if len(args) > 2 else None

sids = []      # every Socket.IO socket id this run had, in order
clients = []   # every client created, disconnected at the end
_finish_lock = threading.Lock()
_finished = False


def finish(result, code):
    global _finished
    with _finish_lock:
        if _finished:
            return
        _finished = True
    # Disconnect cleanly (so the server records a client disconnect), but never hang on it.
    def close_all():
        for c in clients:
            try:
                if c.connected or c.eio.state == 'connected':
                    c.disconnect()
            except Exception:  # pragma: no cover
                pass
    closer = threading.Thread(target=close_all, daemon=True)
    closer.start()
    closer.join(timeout=2)
    sys.stdout.write(json.dumps(result) + '\n')
    sys.stdout.flush()
    sys.stderr.flush()
    # python-socketio keeps non-daemon threads around; leave without waiting for them
    os._exit(code)


def fail(error):
    finish({'ok': False, 'scenario': scenario, 'transport': transport,
            'error': str(error), 'sids': sids}, 1)


class AssertionFailed(Exception):
    pass


def check(cond, message):
    if not cond:
        raise AssertionFailed(message)


# ---------------------------------------------------------------------------------------------
# Comparison helpers

def canon(v):
    if isinstance(v, (bytes, bytearray, memoryview)):
        return {'$bin': bytes(v).hex()}
    if isinstance(v, (list, tuple)):
        return [canon(x) for x in v]
    if isinstance(v, dict):
        return {k: canon(v[k]) for k in sorted(v)}
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, float) and v.is_integer():
        # JSON has one number type: 2.0 and 2 are the same value
        return int(v)
    return v


def show(v):
    def shorten(x):
        if isinstance(x, dict):
            if set(x) == {'$bin'} and len(x['$bin']) > 64:
                return {'$bin': '%d bytes, starts %s' % (len(x['$bin']) // 2, x['$bin'][:16])}
            return {k: shorten(y) for k, y in x.items()}
        if isinstance(x, list):
            return [shorten(y) for y in x]
        return x
    s = json.dumps(shorten(canon(v)), ensure_ascii=False)
    return s if len(s) <= 600 else s[:600] + '...'


def check_equal(got, expected, what):
    check(json.dumps(canon(got), sort_keys=True) == json.dumps(canon(expected), sort_keys=True)
          and type_shape(got) == type_shape(expected),
          '%s: expected %s, got %s' % (what, show(expected), show(got)))


def type_shape(v):
    """Same structure, with bytes kept distinct from strings and lists."""
    if isinstance(v, (bytes, bytearray, memoryview)):
        return 'bin'
    if isinstance(v, (list, tuple)):
        return [type_shape(x) for x in v]
    if isinstance(v, dict):
        return {k: type_shape(v[k]) for k in sorted(v)}
    if isinstance(v, bool):
        return 'bool'
    if isinstance(v, (int, float)):
        return 'num'
    return type(v).__name__


# ---------------------------------------------------------------------------------------------
# Client helpers

def transports_list():
    return {'polling': ['polling'], 'websocket': ['websocket'],
            'upgrade': ['polling', 'websocket']}[transport]


DEBUG = os.environ.get('SCENARIO_DEBUG') == '1'
if DEBUG:
    import logging
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)


def new_client():
    # SCENARIO_DEBUG=1 logs every packet to stderr
    c = socketio.Client(reconnection=False, logger=DEBUG, engineio_logger=DEBUG)
    clients.append(c)
    return c


class Mailbox:
    """Collects every occurrence of an event (as a list of its arguments)."""

    def __init__(self, client, event, namespace='/'):
        self.client = client
        self.event = event
        self.q = queue.Queue()
        client.on(event, handler=lambda *a: self.q.put(list(a)), namespace=namespace)

    def next(self, what=None, timeout=STEP_TIMEOUT_S):
        try:
            return self.q.get(timeout=timeout)
        except queue.Empty:
            state = 'connected over %s' % self.client.transport() if self.client.connected \
                else 'client not connected'
            raise AssertionFailed('timed out after %.0f s waiting for %s (%s)'
                                  % (timeout, what or repr(self.event), state)) from None

    def pending(self):
        return self.q.qsize()


class WireTap:
    """Records, in arrival order, the Socket.IO packets the Engine.IO layer receives.

    python-socketio's sync client runs every event handler in its own thread, so the order in
    which handlers run is not the order on the wire; this taps the (sequential) read loop.
    """

    def __init__(self, client):
        self.messages = []
        orig = client.eio._receive_packet

        def tap(pkt):
            if pkt.packet_type == engineio.packet.MESSAGE and isinstance(pkt.data, str):
                self.messages.append(pkt.data)
            return orig(pkt)
        client.eio._receive_packet = tap

    def events(self, name):
        """Arguments of every EVENT packet named `name`, in wire order."""
        out = []
        for m in self.messages:
            i = m.find('[')
            if i < 0 or not m[:1] == '2':
                continue
            try:
                arr = json.loads(m[i:])
            except ValueError:
                continue
            if isinstance(arr, list) and arr and arr[0] == name:
                out.append(arr[1:])
        return out


def verify_transport(client, what):
    """Checks the Engine.IO transport is the one the CLI asked for."""
    eio = client.eio
    if transport == 'polling':
        check(client.transport() == 'polling',
              '%s: expected transport polling, got %s' % (what, client.transport()))
        return 'polling'
    if transport == 'websocket':
        check(client.transport() == 'websocket',
              '%s: expected transport websocket, got %s' % (what, client.transport()))
        return 'websocket'
    # upgrade: the handshake must have been a polling one that offered websocket, then the
    # client upgraded (python-engineio upgrades synchronously inside connect())
    check('websocket' in (eio.upgrades or []),
          '%s: polling handshake should offer upgrades ["websocket"], got %s'
          % (what, show(eio.upgrades)))
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while client.transport() != 'websocket' and time.monotonic() < deadline:
        time.sleep(0.05)
    check(client.transport() == 'websocket',
          '%s: expected transport websocket after upgrade, got %s' % (what, client.transport()))
    return 'polling->websocket'


def connect(client, namespaces=('/',), auth=None, what='connect', wait=True):
    try:
        client.connect(raw_url, transports=transports_list(), namespaces=list(namespaces),
                       auth=auth, wait=wait, wait_timeout=STEP_TIMEOUT_S * 2)
    except socketio.exceptions.ConnectionError as e:
        raise AssertionFailed('%s: connect failed: %s' % (what, e)) from None
    used = verify_transport(client, what)
    if wait:
        for n in namespaces:
            sid = client.get_sid(n)
            check(isinstance(sid, str) and sid != '',
                  '%s: sid for %s should be a non-empty string, got %s' % (what, n, show(sid)))
            sids.append(sid)
    return used


def call(client, event, data_tuple, namespace='/'):
    """Emits with an ack and returns ALL ack arguments as a list."""
    box = queue.Queue()
    client.emit(event, data_tuple, namespace=namespace, callback=lambda *a: box.put(list(a)))
    try:
        return box.get(timeout=STEP_TIMEOUT_S)
    except queue.Empty:
        raise AssertionFailed('no ack for %r within %.0f s' % (event, STEP_TIMEOUT_S)) from None


def whoami(client, what, namespace='/'):
    try:
        reply = client.call('whoami', namespace=namespace, timeout=STEP_TIMEOUT_S)
    except socketio.exceptions.TimeoutError:
        raise AssertionFailed('%s: no ack for whoami' % what) from None
    check_equal(reply, {'sid': client.get_sid(namespace), 'nsp': namespace}, '%s: whoami ack' % what)
    return reply


# ---------------------------------------------------------------------------------------------
# Test data (the same as scenario.mjs)

JSON_VALUES = [
    ('string', 'hello'),
    ('empty string', ''),
    ('unicode', 'héllo wörld — 你好 ✓ 🚀🎉👩‍👩‍👧'),
    ('escapes', 'quote " backslash \\ newline \n tab \t slash / record-sep \x1e nul-ish \x01'),
    ('int', 42),
    ('zero', 0),
    ('float', 3.14159),
    ('negative int', -17),
    ('negative float', -2.5),
    ('max safe int', 9007199254740991),
    ('true', True),
    ('false', False),
    ('null', None),
    ('nested object', {'a': 1, 'b': {'c': [1, 2, {'d': 'e'}], 's': 'x'}, 't': True, 'n': None}),
    ('array', [1, 'two', None, True, {'k': 'v'}, [3, [4]]]),
    ('empty object', {}),
    ('empty array', []),
]

MULTI_ARGS = ['a', 1, {'b': 2}, [3, 'c'], None]


def big_buffer(n):
    # Deterministic pseudo-random content (xorshift32, same as scenario.mjs)
    out = bytearray(n)
    x = 0x9e3779b9
    for i in range(n):
        x ^= (x << 13) & 0xffffffff
        x ^= x >> 17
        x ^= (x << 5) & 0xffffffff
        out[i] = x & 0xff
    return bytes(out)


def checksum(buf):
    h = 0
    for b in buf:
        h = (h * 31 + b) & 0xffffffff
    return '%x' % h


# ---------------------------------------------------------------------------------------------
# Scenarios

def sc_connect():
    c = new_client()
    used = connect(c)
    reply = whoami(c, 'connect')
    return {'sid': c.get_sid('/'), 'engine_sid': c.eio.sid, 'transport_used': used,
            'whoami': reply, 'handshake_upgrades': c.eio.upgrades}


def sc_echo():
    c = new_client()
    box = Mailbox(c, 'echo-back')
    used = connect(c)
    for name, value in JSON_VALUES:
        # a tuple is the argument list; (value,) sends exactly one argument (even None or a list)
        c.emit('echo', (value,))
        check_equal(box.next('echo-back for %s' % name), [value], 'echo %s' % name)
    c.emit('echo', tuple(MULTI_ARGS))
    check_equal(box.next('echo-back for 5 args'), MULTI_ARGS, 'echo with 5 args')
    c.emit('echo', ('first', {'n': 1}))
    check_equal(box.next('echo-back for 2 args'), ['first', {'n': 1}], 'echo with 2 args')
    n = 20
    tap = WireTap(c)
    for i in range(n):
        c.emit('echo', ('seq', i, {'i': i}))
    got = [box.next('echo-back %d of the %d in a row' % (k + 1, n)) for k in range(n)]
    # handlers may run in any order (one thread each): compare the content as a set here...
    got.sort(key=lambda a: a[1] if len(a) > 1 and isinstance(a[1], int) else -1)
    check_equal(got, [['seq', i, {'i': i}] for i in range(n)], '%d echoes in a row' % n)
    # ...and the order on the wire
    wire = [a[1] for a in tap.events('echo-back') if len(a) > 1 and a[0] == 'seq']
    check(wire == list(range(n)), 'echo-backs out of order on the wire: %s' % wire)
    time.sleep(0.1)
    check(box.pending() == 0, 'unexpected extra echo-back events: %d' % box.pending())
    return {'sid': c.get_sid('/'), 'transport_used': used, 'single_values': len(JSON_VALUES),
            'multi_args': len(MULTI_ARGS), 'in_order': n,
            'max_decode_packets': engineio.payload.Payload.max_decode_packets}


def sc_ack():
    c = new_client()
    used = connect(c)
    shapes = [
        ('one string', ['x']),
        ('one object', [{'a': {'b': [1, 2]}, 'u': 'ü🚀'}]),
        ('three ints', [1, 2, 3]),
        ('five mixed', ['multi', 2, True, None, {'k': 'v'}]),
        ('array arg', [[1, [2, [3]]]]),
        ('no args', []),
    ]
    for name, a in shapes:
        check_equal(call(c, 'echo-ack', tuple(a)), a, 'echo-ack %s' % name)
    # Client.call(): one ack argument -> that value, several -> a tuple, none -> None
    try:
        one = c.call('echo-ack', ({'via': 'call'},), timeout=STEP_TIMEOUT_S)
        several = c.call('echo-ack', ('x', 2), timeout=STEP_TIMEOUT_S)
        none = c.call('echo-ack', timeout=STEP_TIMEOUT_S)
    except socketio.exceptions.TimeoutError:
        raise AssertionFailed('Client.call(echo-ack) timed out') from None
    check_equal(one, {'via': 'call'}, 'call(echo-ack) one arg')
    check(isinstance(several, tuple) and list(several) == ['x', 2],
          'call(echo-ack) two args: expected ("x", 2), got %r' % (several,))
    check(none is None, 'call(echo-ack) no args: expected None, got %r' % (none,))
    # several acks in flight at once are matched to the right callbacks
    results = {}
    done = threading.Event()
    lock = threading.Lock()

    def make_cb(i):
        def cb(*a):
            with lock:
                results[i] = list(a)
                if len(results) == 10:
                    done.set()
        return cb
    for i in range(10):
        c.emit('echo-ack', ('p', i), callback=make_cb(i))
    check(done.wait(STEP_TIMEOUT_S), 'parallel echo-ack: only %d of 10 acks arrived' % len(results))
    for i in range(10):
        check_equal(results[i], ['p', i], 'parallel echo-ack #%d' % i)
    # every echo-ack sent: the shapes, the three calls, the parallel ones
    return {'sid': c.get_sid('/'), 'transport_used': used, 'shapes': len(shapes), 'parallel': 10,
            'sent': len(shapes) + 3 + 10}


def sc_server_ack():
    c = new_client()
    questions = []

    def on_question(*a):
        questions.append(list(a))
        q = a[0] if a else None
        return {'a': 42, 'echo': q}  # the return value is sent as the ack
    c.on('question', on_question)
    answers = Mailbox(c, 'answer-received')
    used = connect(c)
    c.emit('ask-client')
    got = answers.next('answer-received')
    check(len(questions) == 1, 'expected 1 question, got %d' % len(questions))
    check_equal(questions[0], [{'q': 1}], 'question arguments')
    check_equal(got, [{'a': 42, 'echo': {'q': 1}}], 'answer-received')
    return {'sid': c.get_sid('/'), 'transport_used': used, 'question': questions[0][0],
            'answer': got[0]}


def sc_binary():
    c = new_client()
    box = Mailbox(c, 'echo-back')
    used = connect(c)
    all_bytes = bytes(range(256))
    small = b'\xde\xad\xbe\xef'
    cases = [
        ('all 256 byte values', [all_bytes]),
        ('two buffers', [all_bytes, small]),
        ('nested in object', [{'name': 'file.bin', 'data': all_bytes,
                               'meta': {'parts': [small, 'x', {'deeper': small}]}}]),
        ('mixed with json', ['text', 1, all_bytes, {'j': True, 'inner': [small]}, None]),
        ('bytearray', [bytearray(b'\x01\x02\x03\xfa')]),
    ]
    for name, a in cases:
        c.emit('echo', tuple(a))
        check_equal(box.next('echo-back for %s' % name), a, 'binary echo %s' % name)
    ack_args = [all_bytes, {'blob': small, 'list': [small, all_bytes]}, 'tail']
    check_equal(call(c, 'echo-ack', tuple(ack_args)), ack_args, 'binary through echo-ack')
    big = big_buffer(100 * 1024)
    c.emit('echo', ({'big': big},))
    got = box.next('echo-back for the 100 KB buffer')
    check(len(got) == 1 and isinstance(got[0], dict) and isinstance(got[0].get('big'), bytes),
          '100 KB echo: expected [{"big": <bytes>}], got %s' % show(got))
    check(got[0]['big'] == big, '100 KB echo: content differs (len %d, expected %d)'
          % (len(got[0]['big']), len(big)))
    got_ack = call(c, 'echo-ack', (big,))
    check(len(got_ack) == 1 and got_ack[0] == big, '100 KB through echo-ack differs')
    return {'sid': c.get_sid('/'), 'transport_used': used, 'cases': len(cases) + 3,
            'big_len': len(big), 'big_sum': checksum(big)}


def sc_namespace_auth():
    good = new_client()
    welcome = Mailbox(good, 'welcome', namespace='/secure')
    used = connect(good, namespaces=['/secure'], auth={'token': 's3cret'},
                   what='/secure with good token')
    check_equal(welcome.next('welcome on /secure'), [{'auth': {'token': 's3cret'}}],
                'welcome arguments')
    check_equal(call(good, 'echo-ack', ('secure', {'n': 1}), namespace='/secure'),
                ['secure', {'n': 1}], '/secure echo-ack')
    rejected = {}
    for label, auth in (('wrong token', {'token': 'wrong'}), ('no auth', None)):
        c = new_client()
        errors = Mailbox(c, 'connect_error', namespace='/secure')
        connected = []
        c.on('connect', lambda: connected.append(True), namespace='/secure')
        raised = None
        try:
            c.connect(raw_url, transports=transports_list(), namespaces=['/secure'], auth=auth,
                      wait_timeout=STEP_TIMEOUT_S * 2)
        except socketio.exceptions.ConnectionError as e:
            raised = str(e)
        check(raised is not None, '/secure with %s: connect() should raise ConnectionError'
              % label)
        check(not connected, '/secure with %s: connect handler should not have run' % label)
        # python-socketio passes the CONNECT_ERROR payload {message, data} as one argument
        err = errors.next('connect_error on /secure with %s' % label)
        check_equal(err, [{'message': 'unauthorized', 'data': {'reason': 'bad token'}}],
                    '/secure with %s: connect_error payload' % label)
        check(c.get_sid('/secure') is None, '/secure with %s: should have no sid' % label)
        rejected[label] = {'connect_error': err[0], 'connect_raised': raised}
    return {'sid': good.get_sid('/secure'), 'transport_used': used,
            'welcome': {'auth': {'token': 's3cret'}}, 'rejected': rejected}


def sc_refused_namespace():
    # (a) one Client = one Engine.IO connection, joining "/" and "/nope" with wait=False so
    # that the refusal of /nope does not tear the connection down (see (b)).
    c = new_client()
    connects = Mailbox(c, 'connect', namespace='/')
    nope_errors = Mailbox(c, 'connect_error', namespace='/nope')
    try:
        c.connect(raw_url, transports=transports_list(), namespaces=['/', '/nope'], wait=False)
    except socketio.exceptions.ConnectionError as e:
        raise AssertionFailed('connect to / + /nope failed: %s' % e) from None
    connects.next('connect on / (shared connection)')
    err = nope_errors.next('connect_error on /nope')
    check_equal(err, [{'message': 'Invalid namespace'}], '/nope connect_error payload')
    used = verify_transport(c, '/ on shared connection')
    sid = c.get_sid('/')
    check(isinstance(sid, str) and sid != '', '/: expected a sid, got %s' % show(sid))
    sids.append(sid)
    check(c.get_sid('/nope') is None, '/nope should have no sid')
    check(c.connected, 'client should still be connected after /nope was refused')
    engine_sid = c.eio.sid
    reply = whoami(c, '/ after /nope refused')
    check_equal(call(c, 'echo-ack', ('still-alive',)), ['still-alive'],
                '/ echo-ack after /nope refused')
    check(c.eio.sid == engine_sid, 'the Engine.IO session changed')

    # (b) with wait=True (the default) python-socketio itself gives up when any namespace is
    # refused: connect() raises ConnectionError naming /nope and closes the connection.
    c2 = new_client()
    raised = None
    try:
        c2.connect(raw_url, transports=transports_list(), namespaces=['/', '/nope'],
                   wait_timeout=STEP_TIMEOUT_S * 2)
    except socketio.exceptions.ConnectionError as e:
        raised = str(e)
    check(raised is not None and '/nope' in raised,
          'connect(namespaces=["/", "/nope"], wait=True) should raise naming /nope, got %r'
          % raised)
    return {'sid': sid, 'engine_sid': engine_sid, 'transport_used': used,
            'refused': {'nsp': '/nope', 'message': err[0]['message']}, 'whoami': reply,
            'wait_true_raised': raised}


def sc_disconnect_reconnect():
    c = new_client()
    disconnects = Mailbox(c, 'disconnect')
    used = connect(c, what='first connect')
    sid1 = c.get_sid('/')
    whoami(c, 'first connect')

    # (a) client-side disconnect, then a new connect() on the same Client object
    c.disconnect()
    reason_a = disconnects.next('disconnect after Client.disconnect()')
    check(not c.connected, 'client should be disconnected after disconnect()')
    connect(c, what='reconnect')
    sid2 = c.get_sid('/')
    check(sid2 != sid1, 'reconnect: expected a new sid, got %s (old %s)' % (sid2, sid1))
    whoami(c, 'reconnect')

    # (b) server-side disconnect
    tap = WireTap(c)
    c.emit('kick-me')
    reason_b = disconnects.next('disconnect after kick-me')
    # python-socketio reports 'server disconnect' both for a Socket.IO DISCONNECT packet and
    # for an Engine.IO close on polling, so also check the DISCONNECT packet ("41") came in.
    check('1' in tap.messages, 'kick-me: expected a Socket.IO DISCONNECT packet for "/" from '
          'the server, got messages %s' % show(tap.messages[-5:]))
    expected = getattr(getattr(socketio.Client, 'reason', None), 'SERVER_DISCONNECT', None)
    if expected is not None and reason_b:
        check(reason_b == [expected],
              'kick-me: expected disconnect reason %r, got %s' % (expected, show(reason_b)))
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while c.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    check(not c.connected, 'client should be disconnected after kick-me')

    # (c) connect again after being kicked
    time.sleep(0.1)  # let the closing Engine.IO session finish
    connect(c, what='reconnect after kick')
    sid3 = c.get_sid('/')
    check(sid3 not in (sid1, sid2), 'reconnect after kick: expected a new sid, got %s' % sid3)
    whoami(c, 'reconnect after kick')
    return {'transport_used': used, 'first_sid': sid1, 'reconnect_sid': sid2,
            'after_kick_sid': sid3,
            'client_disconnect_reason': reason_a[0] if reason_a else None,
            'kick_reason': reason_b[0] if reason_b else None}


SCENARIOS = {
    'connect': sc_connect,
    'echo': sc_echo,
    'ack': sc_ack,
    'server-ack': sc_server_ack,
    'binary': sc_binary,
    'namespace-auth': sc_namespace_auth,
    'refused-namespace': sc_refused_namespace,
    'disconnect-reconnect': sc_disconnect_reconnect,
}


def main():
    if scenario not in SCENARIOS or not raw_url or transport not in TRANSPORTS:
        fail('usage: python scenario.py <scenario> <url> <transport>; scenario one of %s; '
             'transport one of %s (got %s)'
             % (', '.join(SCENARIOS), ', '.join(TRANSPORTS), json.dumps(sys.argv[1:])))
    timer = threading.Timer(SCENARIO_TIMEOUT_S, lambda: fail(
        "scenario '%s' (%s) did not finish within %.0f s" % (scenario, transport,
                                                              SCENARIO_TIMEOUT_S)))
    timer.daemon = True
    timer.start()
    try:
        details = SCENARIOS[scenario]()
    except AssertionFailed as e:
        fail(str(e))
    except Exception:
        fail('unexpected exception: ' + traceback.format_exc())
    timer.cancel()
    finish({'ok': True, 'scenario': scenario, 'transport': transport, 'sids': sids,
            'details': details}, 0)


if __name__ == '__main__':
    main()
