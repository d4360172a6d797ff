// herald.js — the JavaScript client of Herald, served by every Herald at /herald.js.
// No build step, no dependencies: an ES module for browsers and Node 22+ (Node 20 with
// --experimental-websocket), or any runtime with a WHATWG WebSocket.
//
//   import { Herald } from "https://push.example.com/herald.js";
//   const herald = new Herald({ url: "wss://push.example.com/", token: () => fetchToken() });
//   const stop = herald.subscribe("order-7", (update) => render(update.data));
//   herald.on("notification", (note) => toast(note.message));
//   herald.on("reset", ({ entityId }) => reload(entityId));   // updates were missed: reload it
//
// It reconnects with exponential back-off and full jitter, subscribes again on every connection
// and resumes each entity from the last seq it delivered and the epoch of that entity's stream
// (no gap, no duplicate within the server's history window), refreshes the token before it
// expires, and never reconnects after an administrator's close (4003). The wire protocol is docs/PROTOCOL.md (docs/asyncapi.yaml).

/**
 * @typedef {object} EntityUpdate  An "Entity Updated" push.
 * @property {"Entity Updated"} type
 * @property {string} entityId
 * @property {string} [message]
 * @property {any} [data]
 * @property {number} seq   1, 2, 3… per entity
 * @property {string} id    the publish's eventId
 * @property {string} time  RFC 3339, UTC
 *
 * @typedef {object} UserNotification  A "User Push Notification" push.
 * @property {"User Push Notification"} type
 * @property {string} message
 * @property {string} [callback]
 * @property {string} id
 * @property {string} time
 *
 * @typedef {"connecting" | "open" | "waiting" | "closed"} State
 *
 * @typedef {object} Options
 * @property {string} url  Herald's WebSocket URL, e.g. "wss://push.example.com/"
 * @property {string | (() => string | Promise<string>)} token  the JWT, or a function that gives a
 *   fresh one (called for every connection and every refresh)
 * @property {"protocol" | "query"} [tokenIn="protocol"]  how the token travels on connect:
 *   "protocol" sends `Sec-WebSocket-Protocol: websocket, <token>`, which stays out of URLs (and
 *   so out of proxies' and load balancers' access logs); "query" puts it in `?access_token=`
 *   (for a token with characters a subprotocol cannot carry, or a front that drops the header)
 * @property {number} [refreshBefore=60]  seconds before the token's exp to refresh it (at most
 *   half its lifetime)
 * @property {number} [initialDelay=500]  milliseconds: the first reconnection waits up to this
 * @property {number} [maxDelay=30000]    milliseconds: no reconnection waits longer
 * @property {typeof WebSocket} [WebSocket]  the WebSocket class (default: the global one)
 */

/** Close codes after which the client does not reconnect by itself. */
const FINAL = new Set([4003]);

/** What a WebSocket subprotocol may hold (an RFC 9110 token); a JWT always fits. */
const SUBPROTOCOL = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export class Herald {
  /** @param {Options} options */
  constructor(options) {
    if (!options || !options.url || !options.token) throw new TypeError("Herald needs { url, token }");
    this.options = { tokenIn: "protocol", refreshBefore: 60, initialDelay: 500, maxDelay: 30000, ...options };
    if (this.options.tokenIn !== "protocol" && this.options.tokenIn !== "query") {
      throw new TypeError('tokenIn must be "protocol" or "query"');
    }
    this.WebSocket = options.WebSocket || globalThis.WebSocket;
    if (!this.WebSocket) throw new TypeError("no WebSocket in this runtime: pass options.WebSocket");
    /** @type {Map<string, {handlers: Set<(update: EntityUpdate) => void>, seq: number | null, epoch: string | null}>} */
    this.entities = new Map();
    /** @type {Map<string, Set<Function>>} */
    this.listeners = new Map();
    /** @type {State} */
    this.state = "closed";
    this.socket = null;
    this.attempt = 0;
    this.stopped = false;
    this.timers = { reconnect: null, refresh: null };
    // Connect once the caller has attached its listeners, so they see every state.
    queueMicrotask(() => this.connect());
  }

  /**
   * Receives an entity's updates, in seq order, from now on (and, after a reconnection, the
   * ones missed while away). Returns a function that stops them.
   * @param {string} entityId
   * @param {(update: EntityUpdate) => void} handler
   * @returns {() => void}
   */
  subscribe(entityId, handler) {
    let entity = this.entities.get(entityId);
    if (!entity) {
      entity = { handlers: new Set(), seq: null, epoch: null };
      this.entities.set(entityId, entity);
      this.sendSubscribe(entityId, entity);
    }
    entity.handlers.add(handler);
    return () => {
      entity.handlers.delete(handler);
      if (entity.handlers.size === 0 && this.entities.get(entityId) === entity) {
        this.entities.delete(entityId);
        this.send({ action: "unsubscribe", entityId });
      }
    };
  }

  /**
   * Listens for "notification" (a UserNotification), "subscribed" ({entityId, recovered}: the
   * server confirmed a subscription, after every connection), "reset" ({entityId}: the server
   * could not replay everything missed, or the entity's stream started again — reload that
   * entity), "unsubscribed" ({entityId, reason}: the server ended a subscription — reason
   * "forbidden" when a refreshed token no longer allows it; its handlers get nothing more and it is
   * not subscribed again), "state" (a State), "error" (an error frame: {code, message}) and
   * "closed" ({code, reason}: the client has stopped for good).
   * Returns a function that stops listening.
   * @param {"notification" | "subscribed" | "reset" | "unsubscribed" | "state" | "error" | "closed"} event
   * @param {Function} listener
   */
  on(event, listener) {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event).add(listener);
    return () => this.listeners.get(event)?.delete(listener);
  }

  /** Closes the connection and stops reconnecting. */
  close() {
    this.stopped = true;
    this.clearTimers();
    if (this.socket) this.socket.close(1000);
    this.setState("closed");
  }

  // --- the connection -----------------------------------------------------------------------

  async connect() {
    if (this.stopped) return;
    this.setState("connecting");
    let token;
    try {
      token = await this.token();
    } catch (error) {
      this.emit("error", { code: "token_unavailable", message: String(error) });
      return this.retry();
    }
    if (this.stopped) return;
    const url = new URL(this.options.url);
    let protocols;
    if (this.options.tokenIn === "query") {
      url.searchParams.set("access_token", token);
    } else if (SUBPROTOCOL.test(token)) {
      // Herald takes the token from the second value and answers with "websocket" alone.
      protocols = ["websocket", token];
    } else {
      this.emit("error", { code: "token_unavailable", message: 'the token has characters a subprotocol cannot carry; use tokenIn: "query"' });
      return this.retry();
    }
    const socket = new this.WebSocket(url.toString(), protocols);
    this.socket = socket;
    socket.onopen = () => {
      this.attempt = 0;
      this.setState("open");
      for (const [entityId, entity] of this.entities) this.sendSubscribe(entityId, entity);
      this.scheduleRefresh(expiryOf(token));
    };
    socket.onmessage = (message) => this.receive(message.data);
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.clearTimers();
      if (this.stopped) return;
      if (FINAL.has(event.code)) {
        this.stopped = true;
        this.setState("closed");
        return this.emit("closed", { code: event.code, reason: event.reason });
      }
      // 1008: the server saw abuse from this client; wait the longest before trying again.
      this.retry(event.code === 1008 ? this.options.maxDelay : undefined);
    };
  }

  /** Waits (exponential back-off, full jitter), then connects again. */
  retry(delay) {
    if (this.stopped) return;
    this.setState("waiting");
    const ceiling = Math.min(this.options.maxDelay, this.options.initialDelay * 2 ** this.attempt);
    this.attempt += 1;
    const wait = delay ?? Math.random() * ceiling;
    this.timers.reconnect = setTimeout(() => this.connect(), wait);
  }

  receive(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    switch (frame.type) {
      case "Entity Updated": {
        const entity = this.entities.get(frame.entityId);
        if (!entity || (entity.seq !== null && frame.seq <= entity.seq)) return;
        entity.seq = frame.seq;
        for (const handler of [...entity.handlers]) handler(frame);
        return;
      }
      case "User Push Notification":
        return this.emit("notification", frame);
      case "subscribed": {
        // The answer to a subscribe, or unasked: the entity's stream started again under a new
        // epoch (recovered false), or took another epoch before its first event (recovered true).
        const entity = this.entities.get(frame.entityId);
        if (!entity) return;
        const known = entity.seq !== null;
        entity.epoch = frame.epoch ?? null;
        if (frame.recovered === false) {
          // Events were missed that the server cannot replay: the app reloads the entity, and
          // the pushes that follow (numbered from 1 again after a new epoch) carry on from there.
          entity.seq = null;
          if (known) this.emit("reset", { entityId: frame.entityId });
        }
        return this.emit("subscribed", { entityId: frame.entityId, recovered: frame.recovered !== false });
      }
      case "unsubscribed": {
        // Unasked, with a reason: the server ended the subscription (a refreshed token no longer
        // allows it). It is not subscribed again after a reconnection; the app is told.
        if (!frame.reason) return;
        this.entities.delete(frame.entityId);
        return this.emit("unsubscribed", { entityId: frame.entityId, reason: frame.reason });
      }
      case "refreshed":
        return this.scheduleRefresh(frame.expiresAt);
      case "error":
        return this.emit("error", { code: frame.code, message: frame.message });
      default:
        return;
    }
  }

  sendSubscribe(entityId, entity) {
    const message = { action: "subscribe", entityId };
    if (entity.seq !== null) {
      message.since = entity.seq;
      if (entity.epoch !== null) message.epoch = entity.epoch;
    }
    this.send(message);
  }

  send(message) {
    if (this.socket && this.socket.readyState === 1) this.socket.send(JSON.stringify(message));
  }

  // --- the token ----------------------------------------------------------------------------

  async token() {
    const token = typeof this.options.token === "function" ? await this.options.token() : this.options.token;
    if (typeof token !== "string" || token === "") throw new Error("the token provider gave no token");
    return token;
  }

  /** Refreshes `refreshBefore` seconds before `exp` (at most half the remaining lifetime). */
  scheduleRefresh(exp) {
    clearTimeout(this.timers.refresh);
    if (typeof exp !== "number") return;
    const remaining = exp * 1000 - Date.now();
    const lead = Math.min(this.options.refreshBefore * 1000, remaining / 2);
    this.timers.refresh = setTimeout(async () => {
      try {
        this.send({ action: "refresh", token: await this.token() });
      } catch (error) {
        this.emit("error", { code: "token_unavailable", message: String(error) });
      }
    }, Math.max(0, remaining - lead));
  }

  // --- helpers ------------------------------------------------------------------------------

  clearTimers() {
    clearTimeout(this.timers.reconnect);
    clearTimeout(this.timers.refresh);
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.emit("state", state);
  }

  emit(event, value) {
    for (const listener of [...(this.listeners.get(event) ?? [])]) listener(value);
  }
}

/** The `exp` claim of a JWT (seconds), or undefined. */
function expiryOf(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload.padEnd(Math.ceil(payload.length / 4) * 4, "="))).exp;
  } catch {
    return undefined;
  }
}
