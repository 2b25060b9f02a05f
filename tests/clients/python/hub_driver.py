"""A python-socketio 5 driver for the hub tests (tests/hub_*.rs), the twin of
tests/clients/node/hub/driver.mjs: one JSON command per line on stdin, one JSON reply per line
on stdout.

    python hub_driver.py <base url>

Command: {"id":N,"cmd":"<name>",...}. Reply: {"id":N,"ok":true,"result":..} or
{"id":N,"ok":false,"error":".."}.

    connect     {name, nsp, transports?}          -> {id}
    emit        {name, event, args: [..], ack?}   -> the ack's args (a list) | null
    events      {name, event?}                    -> [{event, args}] (handler order; the sync
                                                     client runs handlers on threads, so this is
                                                     not guaranteed to be wire order)
    counts      {names?, event}                   -> {name: n}
    state       {name}                            -> {connected, id, disconnects}
    disconnect  {name}
    quit        {}

Each socket is its own sync ``socketio.Client`` (its own Engine.IO connection), no
reconnection, on websocket only unless told: by the command, or for every socket by
SIOHUB_DRIVER_TRANSPORTS in the environment (a comma-separated list, such as ``polling``).
"""

import json
import os
import sys
import threading

import socketio

base = (sys.argv[1] if len(sys.argv) > 1 else '').rstrip('/')
if not base:
    sys.stderr.write('usage: hub_driver.py <base url>\n')
    sys.exit(2)

# The transports of a socket whose connect command names none.
DEFAULT_TRANSPORTS = (os.environ.get('SIOHUB_DRIVER_TRANSPORTS') or 'websocket').split(',')

clients = {}
lock = threading.Lock()
out_lock = threading.Lock()


class Entry:
    def __init__(self, name, nsp):
        self.name = name
        self.nsp = nsp
        self.client = socketio.Client(reconnection=False)
        self.events = []
        self.disconnects = []

        def on_any(event, *args):
            with lock:
                self.events.append({'event': event, 'args': list(args)})

        def on_disconnect(*reason):
            with lock:
                self.disconnects.append(str(reason[0]) if reason else 'disconnect')

        self.client.on('*', on_any, namespace=nsp)
        self.client.on('disconnect', on_disconnect, namespace=nsp)


def entry(name):
    e = clients.get(name)
    if e is None:
        raise RuntimeError('no socket named %s' % name)
    return e


def cmd_connect(msg):
    name, nsp = msg['name'], msg['nsp']
    if name in clients:
        raise RuntimeError('socket %s exists already' % name)
    e = Entry(name, nsp)
    clients[name] = e
    e.client.connect(base, namespaces=[nsp], transports=msg.get('transports') or DEFAULT_TRANSPORTS,
                     wait_timeout=10)
    return {'id': e.client.get_sid(nsp)}


def cmd_emit(msg):
    e = entry(msg['name'])
    args = msg.get('args') or []
    # python-socketio sends a tuple as several arguments, anything else as one.
    data = tuple(args) if len(args) != 1 else args[0]
    if not msg.get('ack'):
        e.client.emit(msg['event'], data, namespace=e.nsp)
        return None
    timeout = (msg.get('timeout_ms') or 10000) / 1000.0
    reply = e.client.call(msg['event'], data, namespace=e.nsp, timeout=timeout)
    if reply is None:
        return []
    return list(reply) if isinstance(reply, tuple) else [reply]


def cmd_events(msg):
    e = entry(msg['name'])
    with lock:
        events = list(e.events)
    event = msg.get('event')
    return [x for x in events if not event or x['event'] == event]


def cmd_counts(msg):
    names = msg.get('names') or list(clients)
    with lock:
        return {n: sum(1 for x in entry(n).events if x['event'] == msg['event']) for n in names}


def cmd_state(msg):
    e = entry(msg['name'])
    with lock:
        return {'connected': e.client.connected, 'id': e.client.get_sid(e.nsp),
                'disconnects': list(e.disconnects)}


def cmd_disconnect(msg):
    entry(msg['name']).client.disconnect()
    return None


def close_all():
    for e in list(clients.values()):
        try:
            e.client.disconnect()
        except Exception:  # pragma: no cover
            pass


COMMANDS = {
    'connect': cmd_connect,
    'emit': cmd_emit,
    'events': cmd_events,
    'counts': cmd_counts,
    'state': cmd_state,
    'disconnect': cmd_disconnect,
}


def write(reply):
    with out_lock:
        sys.stdout.write(json.dumps(reply) + '\n')
        sys.stdout.flush()


def main():
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            msg = json.loads(line)
        except ValueError as err:
            write({'id': None, 'ok': False, 'error': 'bad command line: %s' % err})
            continue
        if msg.get('cmd') == 'quit':
            write({'id': msg.get('id'), 'ok': True, 'result': None})
            break
        handler = COMMANDS.get(msg.get('cmd'))
        try:
            if handler is None:
                raise RuntimeError('unknown command %s' % msg.get('cmd'))
            write({'id': msg.get('id'), 'ok': True, 'result': handler(msg)})
        except Exception as err:  # reported to the test, which fails with it
            write({'id': msg.get('id'), 'ok': False, 'error': '%s: %s' % (type(err).__name__, err)})
    closer = threading.Thread(target=close_all, daemon=True)
    closer.start()
    closer.join(timeout=2)
    sys.stdout.flush()
    # python-socketio keeps non-daemon threads around; leave without waiting for them
    os._exit(0)


if __name__ == '__main__':
    main()
