// The dashboard's own Socket.IO client: Engine.IO v4 (websocket, falling back to HTTP
// long-polling when a websocket cannot be opened) and Socket.IO v5 for one namespace.
// Handshake, ping/pong with the server's timeout, events with acks, CONNECT with auth,
// CONNECT_ERROR, and reconnection with exponential backoff and jitter.
//
// Exposes window.SioClient. Text packets only: the dashboard's protocol carries no binary.
"use strict";

(function (global) {
  // Engine.IO v4 packet types.
  const EIO = { OPEN: "0", CLOSE: "1", PING: "2", PONG: "3", MESSAGE: "4", NOOP: "6" };
  // Socket.IO v5 packet types.
  const SIO = { CONNECT: 0, DISCONNECT: 1, EVENT: 2, ACK: 3, CONNECT_ERROR: 4, BINARY_EVENT: 5, BINARY_ACK: 6 };
  // Engine.IO polling payloads separate packets with the record separator.
  const SEPARATOR = "\x1e";

  /** A minimal event emitter. */
  class Emitter {
    constructor() { this._handlers = new Map(); }
    on(event, fn) {
      if (!this._handlers.has(event)) this._handlers.set(event, []);
      this._handlers.get(event).push(fn);
      return this;
    }
    off(event, fn) {
      const list = this._handlers.get(event);
      if (list) this._handlers.set(event, list.filter((f) => f !== fn));
      return this;
    }
    fire(event, ...args) {
      for (const fn of this._handlers.get(event) || []) {
        try { fn(...args); } catch (e) { console.error("handler of", event, "failed:", e); }
      }
    }
  }

  /** The Engine.IO endpoint's URL for `transport` (and `sid` once known). */
  function endpoint(path, transport, sid) {
    const loc = global.location;
    const secure = loc.protocol === "https:";
    const scheme = transport === "websocket" ? (secure ? "wss:" : "ws:") : loc.protocol;
    let url = scheme + "//" + loc.host + path + "?EIO=4&transport=" + transport;
    if (sid) url += "&sid=" + encodeURIComponent(sid);
    return url;
  }

  /** A websocket carrying one Engine.IO packet per frame. */
  class WebSocketTransport extends Emitter {
    constructor(path) {
      super();
      this.name = "websocket";
      this.path = path;
      this.ws = null;
    }
    open() {
      let ws;
      try {
        ws = new WebSocket(endpoint(this.path, "websocket"));
      } catch (e) {
        setTimeout(() => this.fire("close", "websocket refused: " + e.message), 0);
        return;
      }
      this.ws = ws;
      ws.onmessage = (m) => {
        if (typeof m.data === "string") this.fire("packet", m.data);
      };
      ws.onclose = (e) => {
        if (this.ws !== ws) return;
        this.ws = null;
        this.fire("close", "websocket closed" + (e.code ? " (" + e.code + ")" : ""));
      };
      ws.onerror = () => {};
    }
    send(packets) {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
      for (const p of packets) this.ws.send(p);
    }
    close() {
      const ws = this.ws;
      this.ws = null;
      if (ws) { ws.onclose = null; ws.onmessage = null; ws.close(); }
    }
  }

  /** HTTP long-polling: a GET always waiting, POSTs one at a time carrying what queued. */
  class PollingTransport extends Emitter {
    constructor(path) {
      super();
      this.name = "polling";
      this.path = path;
      this.sid = null;
      this.closed = false;
      this.queue = [];
      this.posting = false;
    }
    open() { this._poll(); }
    setSid(sid) { this.sid = sid; }
    _url() { return endpoint(this.path, "polling", this.sid) + "&t=" + Date.now().toString(36); }
    _poll() {
      if (this.closed) return;
      fetch(this._url(), { cache: "no-store", credentials: "same-origin" })
        .then((r) => {
          if (!r.ok) throw new Error("poll answered " + r.status);
          return r.text();
        })
        .then((body) => {
          if (this.closed) return;
          for (const p of body.split(SEPARATOR)) if (p.length) this.fire("packet", p);
          if (!this.closed) this._poll();
        })
        .catch((e) => this._fail("polling failed: " + e.message));
    }
    send(packets) {
      this.queue.push(...packets);
      this._flush();
    }
    _flush() {
      if (this.posting || this.closed || !this.sid || this.queue.length === 0) return;
      const body = this.queue.join(SEPARATOR);
      this.queue = [];
      this.posting = true;
      fetch(this._url(), {
        method: "POST", body, cache: "no-store", credentials: "same-origin",
        headers: { "Content-Type": "text/plain;charset=UTF-8" },
      })
        .then((r) => {
          if (!r.ok) throw new Error("post answered " + r.status);
          this.posting = false;
          this._flush();
        })
        .catch((e) => this._fail("polling post failed: " + e.message));
    }
    _fail(reason) {
      if (this.closed) return;
      this.closed = true;
      this.fire("close", reason);
    }
    close() {
      if (this.closed) return;
      this.closed = true;
      // Tell the server at once, whether or not a POST is in flight.
      if (this.sid) {
        fetch(this._url(), { method: "POST", body: EIO.CLOSE, cache: "no-store", credentials: "same-origin" })
          .catch(() => {});
      }
    }
  }

  /**
   * One Engine.IO connection: opens a transport, reads the handshake, answers pings and
   * closes when the server has been silent for pingInterval + pingTimeout.
   * Events: open(handshake), message(text), close(reason).
   */
  class Engine extends Emitter {
    constructor(path, transportName) {
      super();
      this.path = path;
      this.transportName = transportName;
      this.transport = null;
      this.handshake = null;
      this.state = "closed";
      this._pingTimer = null;
    }
    open() {
      this.state = "opening";
      const t = this.transportName === "websocket"
        ? new WebSocketTransport(this.path)
        : new PollingTransport(this.path);
      this.transport = t;
      t.on("packet", (p) => this._onPacket(p));
      t.on("close", (reason) => this._onClose(reason));
      t.open();
    }
    _onPacket(packet) {
      const type = packet.charAt(0);
      const data = packet.slice(1);
      if (type === EIO.OPEN) {
        try { this.handshake = JSON.parse(data); } catch (e) { return this._abort("bad handshake"); }
        if (!this.handshake || typeof this.handshake.sid !== "string") return this._abort("bad handshake");
        if (this.transport.setSid) this.transport.setSid(this.handshake.sid);
        this.state = "open";
        this._resetPingTimer();
        this.fire("open", this.handshake);
      } else if (type === EIO.PING) {
        this._resetPingTimer();
        this.send(EIO.PONG + data);
      } else if (type === EIO.MESSAGE) {
        this._resetPingTimer();
        this.fire("message", data);
      } else if (type === EIO.CLOSE) {
        this._onClose("server closed the connection");
      } else if (type === EIO.NOOP || type === EIO.PONG) {
        // nothing to do
      }
    }
    _resetPingTimer() {
      clearTimeout(this._pingTimer);
      const h = this.handshake || {};
      const wait = (h.pingInterval || 25000) + (h.pingTimeout || 20000);
      this._pingTimer = setTimeout(() => this._abort("ping timeout"), wait);
    }
    _abort(reason) {
      if (this.transport) this.transport.close();
      this._onClose(reason);
    }
    _onClose(reason) {
      if (this.state === "closed") return;
      const wasOpen = this.state === "open";
      this.state = "closed";
      clearTimeout(this._pingTimer);
      this.fire("close", reason, wasOpen);
    }
    /** Sends one Engine.IO packet (already encoded). */
    send(packet) {
      if (this.state === "open" && this.transport) this.transport.send([packet]);
    }
    close() {
      if (this.transport) this.transport.close();
      this._onClose("client closed the connection");
    }
  }

  /** Splits a Socket.IO text packet into {type, nsp, id, data}; null when malformed. */
  function decode(text) {
    let i = 0;
    const type = Number(text.charAt(i++));
    if (!(type >= 0 && type <= 6)) return null;
    if (type === SIO.BINARY_EVENT || type === SIO.BINARY_ACK) {
      const dash = text.indexOf("-", i);
      if (dash < 0) return null;
      i = dash + 1;
    }
    let nsp = "/";
    if (text.charAt(i) === "/") {
      const comma = text.indexOf(",", i);
      nsp = comma < 0 ? text.slice(i) : text.slice(i, comma);
      i = comma < 0 ? text.length : comma + 1;
    }
    let digits = "";
    while (i < text.length && text.charAt(i) >= "0" && text.charAt(i) <= "9") digits += text.charAt(i++);
    const id = digits ? Number(digits) : null;
    let data;
    if (i < text.length) {
      try { data = JSON.parse(text.slice(i)); } catch (e) { return null; }
    }
    return { type, nsp, id, data };
  }

  /** A Socket.IO packet's text for namespace `nsp`. */
  function encode(type, nsp, id, data) {
    let out = String(type);
    if (nsp !== "/") out += nsp + ",";
    if (id !== null && id !== undefined) out += id;
    if (data !== undefined) out += JSON.stringify(data);
    return out;
  }

  /**
   * A Socket.IO client of one namespace, reconnecting with backoff.
   *
   * options: path ("/socket.io/"), nsp ("/"), auth (an object or a function returning one,
   * asked at every CONNECT), transports (["websocket", "polling"]), ackTimeout (ms),
   * reconnectDelay (ms, first), reconnectDelayMax (ms).
   *
   * Events: connect(data), connect_error(error), disconnect(reason), reconnecting(delay,
   * attempt), state(name), and every event the server emits (with an ack function last
   * when the server asked for one).
   */
  class SioClient extends Emitter {
    constructor(options) {
      super();
      this.path = options.path || "/socket.io/";
      this.nsp = options.nsp || "/";
      this.auth = options.auth || {};
      this.transports = (options.transports || ["websocket", "polling"]).slice();
      this.ackTimeout = options.ackTimeout || 10000;
      this.delay = options.reconnectDelay || 500;
      this.delayMax = options.reconnectDelayMax || 10000;
      this.engine = null;
      this.connected = false;
      this.id = null;
      this.transport = null;
      this.active = false;
      this._attempt = 0;
      this._nextAck = 0;
      this._acks = new Map();
      this._retry = null;
      this._websocketWorked = false;
    }

    /** Connects (and keeps reconnecting until close() or a CONNECT_ERROR). */
    connect() {
      this.active = true;
      clearTimeout(this._retry);
      this._open();
      return this;
    }

    _open() {
      if (this.engine) this.engine.close();
      const name = this.transports[0];
      const engine = new Engine(this.path, name);
      this.engine = engine;
      this.fire("state", "connecting");
      engine.on("open", () => {
        if (name === "websocket") this._websocketWorked = true;
        this.transport = name;
        const auth = typeof this.auth === "function" ? this.auth() : this.auth;
        engine.send(EIO.MESSAGE + encode(SIO.CONNECT, this.nsp, null, auth || undefined));
      });
      engine.on("message", (text) => this._onMessage(text));
      engine.on("close", (reason, wasOpen) => {
        if (this.engine !== engine) return;
        this.engine = null;
        // A websocket that never opened (blocked by a proxy, unsupported): use polling.
        if (!wasOpen && name === "websocket" && !this._websocketWorked && this.transports.length > 1) {
          this.transports.push(this.transports.shift());
        }
        this._onEngineClose(reason);
      });
      engine.open();
    }

    _onMessage(text) {
      const packet = decode(text);
      if (!packet || packet.nsp !== this.nsp) return;
      switch (packet.type) {
        case SIO.CONNECT:
          this.connected = true;
          this.id = packet.data && packet.data.sid;
          this._attempt = 0;
          this.fire("state", "connected");
          this.fire("connect", packet.data);
          break;
        case SIO.CONNECT_ERROR: {
          const data = packet.data;
          const err = new Error((data && data.message) || String(data));
          err.data = data && data.data;
          // Refused by the server: do not retry with the same credentials.
          this.active = false;
          this._teardown("connect error");
          this.fire("connect_error", err);
          break;
        }
        case SIO.EVENT:
        case SIO.BINARY_EVENT: {
          if (!Array.isArray(packet.data) || packet.data.length === 0) return;
          const args = packet.data.slice(1);
          if (packet.id !== null) {
            let answered = false;
            args.push((...reply) => {
              if (answered) return;
              answered = true;
              this._sendPacket(SIO.ACK, packet.id, reply);
            });
          }
          this.fire(String(packet.data[0]), ...args);
          break;
        }
        case SIO.ACK:
        case SIO.BINARY_ACK: {
          const pending = this._acks.get(packet.id);
          if (pending) {
            this._acks.delete(packet.id);
            clearTimeout(pending.timer);
            pending.resolve(Array.isArray(packet.data) ? packet.data : []);
          }
          break;
        }
        case SIO.DISCONNECT:
          // The server removed us from the namespace: like socket.io-client, no retry.
          this.active = false;
          this._teardown("io server disconnect");
          break;
      }
    }

    _sendPacket(type, id, data) {
      if (this.engine) this.engine.send(EIO.MESSAGE + encode(type, this.nsp, id, data));
    }

    /**
     * Emits `event` with `args` and resolves with the ack's first argument; rejects when
     * not connected, when the connection drops first, or after ackTimeout.
     */
    request(event, ...args) {
      return new Promise((resolve, reject) => {
        if (!this.connected) return reject(new Error("not connected"));
        const id = this._nextAck++;
        const timer = setTimeout(() => {
          this._acks.delete(id);
          reject(new Error(event + ": no answer within " + this.ackTimeout + " ms"));
        }, this.ackTimeout);
        this._acks.set(id, { resolve: (reply) => resolve(reply[0]), reject, timer });
        this._sendPacket(SIO.EVENT, id, [event, ...args]);
      });
    }

    /** Emits `event` with `args`, asking for no ack. */
    emit(event, ...args) {
      if (this.connected) this._sendPacket(SIO.EVENT, null, [event, ...args]);
    }

    _failAcks(reason) {
      for (const [, pending] of this._acks) {
        clearTimeout(pending.timer);
        pending.reject(new Error(reason));
      }
      this._acks.clear();
    }

    _teardown(reason) {
      const wasConnected = this.connected;
      this.connected = false;
      this.id = null;
      this._failAcks(reason);
      if (this.engine) {
        const engine = this.engine;
        this.engine = null;
        engine.close();
      }
      if (wasConnected) this.fire("disconnect", reason);
      this.fire("state", "disconnected");
    }

    _onEngineClose(reason) {
      const wasConnected = this.connected;
      this.connected = false;
      this.id = null;
      this._failAcks(reason);
      if (wasConnected) this.fire("disconnect", reason);
      if (!this.active) {
        this.fire("state", "disconnected");
        return;
      }
      const base = Math.min(this.delayMax, this.delay * Math.pow(2, this._attempt));
      const delay = Math.round(base * (0.5 + Math.random()));
      this._attempt += 1;
      this.fire("state", "reconnecting");
      this.fire("reconnecting", delay, this._attempt);
      this._retry = setTimeout(() => { if (this.active) this._open(); }, delay);
    }

    /** Leaves the namespace and closes the connection; no reconnection. */
    close() {
      this.active = false;
      clearTimeout(this._retry);
      if (this.connected) this._sendPacket(SIO.DISCONNECT);
      this._teardown("io client disconnect");
    }
  }

  global.SioClient = SioClient;
  global.SioClient.decode = decode;
  global.SioClient.encode = encode;
})(window);
