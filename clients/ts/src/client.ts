// The client: one WebSocket to a hub (spec/wire-format.md §3.3, one frame
// body per binary message), the handshake (§4.2), described subscriptions
// (§4.3), updates into mirrors (§7.5, `follower.ts`), writes and their
// results (§4.5, §7.6; one larger than a frame in parts, `parts.ts`),
// keep-alive (§4.6), and reconnection with each mirror resumed from where
// it stands (its instance and generation).

import { proof } from "./auth.js";
import { ConnectionLost, HubError, WriteError } from "./errors.js";
import { Fatal, Follower } from "./follower.js";
import {
  decodeFrame,
  encodeFrame,
  ErrorCode,
  type Frame,
  type Limits,
  PROTOCOL_VERSION,
  type RegionInfo,
  type VarEntry,
} from "./frames.js";
import { Mirror, type MirrorOwner } from "./mirror.js";
import { writeFrames } from "./parts.js";
import { describe, SchemaError, type Variable } from "./schema.js";
import { encodeValue } from "./values.js";
import { utf8Bytes } from "./wire.js";

/** The part of the WebSocket API the client uses: browsers' and the `ws` package's. */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

/** A WebSocket class: `globalThis.WebSocket` in browsers, `ws`'s in Node 20. */
export type WebSocketClass = new (url: string) => WebSocketLike;

/** How to connect. */
export interface ClientOptions {
  /** The client's name, as in the hub's `[[tenant.client]]`. */
  client: string;
  /** The tenant it belongs to. */
  tenant: string;
  /** The client's secret: a string (its UTF-8 bytes) or bytes. */
  secret: string | Uint8Array;
  /** The WebSocket class; default `globalThis.WebSocket`. */
  WebSocket?: WebSocketClass;
  /** The largest frame body the client takes (default 65,536, at least 128). */
  maxFrame?: number;
  /** The first pause before reconnecting (default 100 ms), doubled up to `reconnectMaxMs` (5 s). */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** How long connecting and the handshake may take (default 10 s). */
  connectTimeoutMs?: number;
}

/** Where the client stands: connected, reconnecting after a loss, or closed by `close()`. */
export type State = "connected" | "reconnecting" | "closed";

/** What the client counted since it was made. */
export interface Stats {
  connections: number;
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  updates: number;
  /** Updates that were full copies (the first of a mirror, a new instance, a resync). */
  fullUpdates: number;
  resyncs: number;
  writesApplied: number;
  writesRefused: number;
}

/** A region the hub announced in its welcome. */
export interface RegionEntry {
  name: string;
  /** The region's instance (a generation means something within one). */
  instance: bigint;
}

const KEEPALIVE_MS = 5_000;
const TIMEOUT_MS = 15_000;
const MAX_WRITES = 8;
const TICK_MS = 250;
const NAME = /^[A-Za-z0-9_.-]{1,40}$/;

interface Subscription {
  handle: number;
  path: string;
  mirror?: Mirror;
  follower?: Follower;
  /** The variable table of a described subscription, as its parts come. */
  table: VarEntry[];
  /** The schema has been taken on this connection. */
  live: boolean;
  waiting?: { resolve: (m: Mirror) => void; reject: (e: Error) => void };
}

interface PendingWrite {
  mirror: Mirror;
  variable: Variable;
  value: Uint8Array;
  resolve: (generation: bigint) => void;
  reject: (e: Error) => void;
}

interface Handshake {
  hello: Uint8Array;
  phase: "challenge" | "welcome";
  resolve: () => void;
  reject: (e: Error) => void;
}

/** A connection to a hub, kept up until `close()`. */
export class Client implements MirrorOwner {
  private ws: WebSocketLike | undefined;
  private handshake: Handshake | undefined;
  private limits: Limits | undefined;
  private announced: RegionEntry[] = [];
  private state: State | "connecting" = "connecting";
  private readonly subs = new Map<number, Subscription>();
  private nextHandle = 0;
  private readonly queued: PendingWrite[] = [];
  private readonly inFlight = new Map<number, PendingWrite>();
  private nextRequest = 1;
  private inbox: Promise<void> = Promise.resolve();
  private readonly stateListeners = new Set<(state: State) => void>();
  private readonly counts: Stats = {
    connections: 0,
    framesIn: 0,
    framesOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    updates: 0,
    fullUpdates: 0,
    resyncs: 0,
    writesApplied: 0,
    writesRefused: 0,
  };
  private ticker: ReturnType<typeof setInterval> | undefined;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private lastSent = 0;
  private lastReceived = 0;
  private pingNonce = 0n;
  private backoff: number;
  private readonly secret: Uint8Array;
  private readonly WebSocketClass: WebSocketClass;

  private constructor(
    private readonly url: string,
    private readonly options: ClientOptions,
  ) {
    this.secret = typeof options.secret === "string" ? utf8Bytes(options.secret) : options.secret;
    const ws = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketClass }).WebSocket;
    if (!ws) {
      throw new TypeError("no WebSocket class: pass options.WebSocket (in Node 20, the `ws` package's WebSocket)");
    }
    this.WebSocketClass = ws;
    this.backoff = options.reconnectMinMs ?? 100;
  }

  /**
   * Connects to the hub at `url` (`ws://host:port/` or `wss://…`) and
   * authenticates; resolves once the hub welcomed the client, rejects with
   * a `HubError` (`AuthFailed` for a wrong tenant, client or secret) or the
   * connection's error. Later losses are repaired by reconnecting.
   */
  static async connect(url: string, options: ClientOptions): Promise<Client> {
    const client = new Client(url, options);
    await client.open();
    client.setState("connected");
    return client;
  }

  /** The regions this client may access, as the hub announced them at the last welcome. */
  regions(): RegionEntry[] {
    return this.announced.map((r) => ({ ...r }));
  }

  /** The limits the hub announced at the last welcome. */
  hubLimits(): Limits | undefined {
    return this.limits && { ...this.limits };
  }

  /**
   * Mirrors the region at `path` (`tenant/region`, or `region` of the
   * client's tenant), its schema described by the hub; resolves once the
   * mirror holds the region's bytes, rejects with a `HubError`
   * (`AccessDenied`, `UnknownRegion`, …).
   */
  subscribe(path: string): Promise<Mirror> {
    if (this.state === "closed") return Promise.reject(new ConnectionLost("the client is closed"));
    const parts = path.split("/");
    if (parts.length > 2 || !parts.every((p) => NAME.test(p))) {
      // The hub would close the connection over it (Malformed), again after each reconnection.
      return Promise.reject(new RangeError(`not a region path: ${JSON.stringify(path)} (tenant/region or region)`));
    }
    const handle = this.nextHandle;
    this.nextHandle = (this.nextHandle + 1) & 0xffff;
    return new Promise<Mirror>((resolve, reject) => {
      const sub: Subscription = { handle, path, table: [], live: false, waiting: { resolve, reject } };
      this.subs.set(handle, sub);
      if (this.state === "connected") this.sendSubscribe(sub);
    });
  }

  /** Calls `listener` on each change of state; returns a function that stops it. */
  onState(listener: (state: State) => void): () => void {
    this.stateListeners.add(listener);
    return () => {
      this.stateListeners.delete(listener);
    };
  }

  /** Where the client stands now. */
  currentState(): State | "connecting" {
    return this.state;
  }

  /** What the client counted so far. */
  stats(): Stats {
    return { ...this.counts };
  }

  /** Closes the connection in order (a Close frame) and stops reconnecting. */
  async close(): Promise<void> {
    if (this.state === "closed") return;
    const ws = this.ws;
    this.stop();
    this.ws = undefined;
    this.setState("closed");
    const lost = new ConnectionLost("the client was closed");
    for (const w of [...this.queued, ...this.inFlight.values()]) w.reject(lost);
    this.queued.length = 0;
    this.inFlight.clear();
    for (const sub of this.subs.values()) sub.waiting?.reject(lost);
    this.subs.clear();
    if (!ws) return;
    const closed = new Promise<void>((resolve) => {
      const done = setTimeout(resolve, 1000);
      ws.onclose = () => {
        clearTimeout(done);
        resolve();
      };
    });
    try {
      if (ws.readyState === 1) ws.send(encodeFrame({ type: "close" }));
      ws.close(1000);
    } catch {
      // Already closing.
    }
    await closed;
  }

  /** @internal A mirror's `set`. */
  write(mirror: Mirror, variable: Variable, value: unknown): Promise<bigint> {
    if (this.state === "closed") return Promise.reject(new ConnectionLost("the client is closed"));
    if (mirror.ended) return Promise.reject(mirror.ended);
    let bytes: Uint8Array;
    try {
      bytes = encodeValue(variable, value);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<bigint>((resolve, reject) => {
      this.queued.push({ mirror, variable, value: bytes, resolve, reject });
      this.pumpWrites();
    });
  }

  // --- connecting ---------------------------------------------------------

  /** One connection up to the welcome. */
  private open(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let ws: WebSocketLike;
      try {
        ws = new this.WebSocketClass(this.url);
      } catch (e) {
        reject(e as Error);
        return;
      }
      ws.binaryType = "arraybuffer";
      this.ws = ws;
      const timeout = setTimeout(
        () => this.lost(ws, new ConnectionLost(`no welcome from ${this.url} in time`)),
        this.options.connectTimeoutMs ?? 10_000,
      );
      const hello = encodeFrame({
        type: "hello",
        version: PROTOCOL_VERSION,
        maxFrame: this.options.maxFrame ?? 65_536,
        client: this.options.client,
        tenant: this.options.tenant,
      });
      this.handshake = {
        hello,
        phase: "challenge",
        resolve: () => {
          clearTimeout(timeout);
          resolve();
        },
        reject: (e) => {
          clearTimeout(timeout);
          reject(e);
        },
      };
      ws.onopen = () => {
        this.lastReceived = Date.now();
        this.send(ws, hello);
      };
      ws.onmessage = (event) => {
        const body = bytesOf(event.data);
        this.inbox = this.inbox
          .then(() => (body ? this.receive(ws, body) : this.protocolError(ws, ErrorCode.Malformed, "text message")))
          .catch((e: unknown) => this.lost(ws, e instanceof Error ? e : new Error(String(e))));
      };
      ws.onclose = (event) => {
        const why = event.reason ? `: ${event.reason}` : "";
        this.lost(ws, new ConnectionLost(`connection closed (${event.code}${why})`));
      };
      ws.onerror = () => {
        this.lost(ws, new ConnectionLost(`cannot reach ${this.url}`));
      };
    });
  }

  /** The connection `ws` ended (or failed): the handshake fails, or the client reconnects. */
  private lost(ws: WebSocketLike, error: Error): void {
    if (ws !== this.ws) return;
    this.ws = undefined;
    this.stop();
    try {
      ws.close();
    } catch {
      // Already closed.
    }
    const handshake = this.handshake;
    this.handshake = undefined;
    const gone = new ConnectionLost(`connection lost before the hub answered: ${error.message}`);
    for (const w of this.inFlight.values()) w.reject(gone);
    this.inFlight.clear();
    for (const sub of this.subs.values()) sub.live = false;
    if (handshake) {
      handshake.reject(error);
      return;
    }
    if (this.state === "closed") return;
    this.setState("reconnecting");
    this.reconnect();
  }

  private reconnect(): void {
    const max = this.options.reconnectMaxMs ?? 5_000;
    const pause = this.backoff * (1 + Math.random() * 0.5);
    this.backoff = Math.min(this.backoff * 2, max);
    this.retry = setTimeout(() => {
      this.retry = undefined;
      if (this.state === "closed") return;
      this.open().then(
        () => {
          this.backoff = this.options.reconnectMinMs ?? 100;
          this.setState("connected");
        },
        () => {
          if (this.state !== "closed") this.reconnect();
        },
      );
    }, pause);
  }

  private stop(): void {
    if (this.ticker) clearInterval(this.ticker);
    if (this.retry) clearTimeout(this.retry);
    this.ticker = undefined;
    this.retry = undefined;
  }

  private setState(state: State): void {
    if (this.state === state) return;
    this.state = state;
    for (const listener of [...this.stateListeners]) listener(state);
  }

  // --- frames in ------------------------------------------------------------

  private async receive(ws: WebSocketLike, body: Uint8Array): Promise<void> {
    if (ws !== this.ws) return;
    this.lastReceived = Date.now();
    this.counts.framesIn++;
    this.counts.bytesIn += body.length;
    let frame: Frame;
    try {
      frame = decodeFrame(body);
    } catch (e) {
      return this.protocolError(ws, ErrorCode.Malformed, (e as Error).message);
    }
    switch (frame.type) {
      case "ping":
        return this.sendFrame(ws, { type: "pong", nonce: frame.nonce });
      case "pong":
        return;
      case "error":
        if (frame.handle === undefined) {
          const error = new HubError(frame.code, frame.reason);
          if (this.handshake) {
            const handshake = this.handshake;
            this.handshake = undefined;
            this.ws = undefined;
            ws.close();
            handshake.reject(error);
            return;
          }
          return this.lost(ws, error);
        }
        return this.ended(frame.handle, new HubError(frame.code, frame.reason));
      case "close":
        return this.lost(ws, new ConnectionLost("the hub closed the connection"));
    }
    if (this.handshake) return this.handshakeFrame(ws, this.handshake, frame);
    switch (frame.type) {
      case "schema":
        return this.schema(ws, frame);
      case "update":
        return this.update(ws, frame);
      case "writeResult":
        return this.writeResult(ws, frame);
      case "subscribe":
        // This client publishes no region of its own.
        return this.sendFrame(ws, {
          type: "error",
          code: ErrorCode.UnknownRegion,
          handle: frame.handle,
          reason: "this client publishes no region",
        });
      default:
        return this.protocolError(ws, ErrorCode.UnexpectedFrame, `unexpected ${frame.type} frame`);
    }
  }

  private async handshakeFrame(ws: WebSocketLike, handshake: Handshake, frame: Frame): Promise<void> {
    if (handshake.phase === "challenge" && frame.type === "challenge") {
      const answer = await proof(this.secret, frame.nonce, handshake.hello);
      if (ws !== this.ws) return;
      handshake.phase = "welcome";
      return this.sendFrame(ws, { type: "auth", proof: answer });
    }
    if (handshake.phase === "welcome" && frame.type === "welcome") {
      this.handshake = undefined;
      this.limits = frame.limits;
      this.announced = frame.regions.map((r: RegionInfo) => ({ name: r.name, instance: r.instance }));
      this.counts.connections++;
      this.ticker = setInterval(() => this.tick(ws), TICK_MS);
      (this.ticker as { unref?: () => void }).unref?.();
      for (const sub of this.subs.values()) this.sendSubscribe(sub);
      handshake.resolve();
      this.pumpWrites();
      return;
    }
    return this.protocolError(ws, ErrorCode.UnexpectedFrame, `unexpected ${frame.type} frame in the handshake`);
  }

  private async schema(ws: WebSocketLike, part: Extract<Frame, { type: "schema" }>): Promise<void> {
    const sub = this.subs.get(part.handle);
    if (!sub) return;
    if (sub.follower && sub.mirror) {
      if (!sub.follower.onSchema(part)) {
        this.sendFrame(ws, { type: "unsubscribe", handle: sub.handle });
        return this.ended(sub.handle, new HubError(ErrorCode.SchemaMismatch, "the region's schema changed"));
      }
      sub.mirror.instance = part.instance;
      sub.live = true;
      return;
    }
    // A described subscription: the table comes in parts, whole variables each.
    if (part.first === 0) sub.table = [];
    const broken =
      part.first !== sub.table.length ||
      sub.table.length + part.variables.length > part.count ||
      (part.variables.length === 0 && part.count > sub.table.length);
    if (broken) {
      this.sendFrame(ws, { type: "unsubscribe", handle: sub.handle });
      return this.ended(sub.handle, new HubError(ErrorCode.UnexpectedFrame, "the variable table came out of order"));
    }
    sub.table.push(...part.variables);
    if (sub.table.length < part.count) return;
    let variables: Variable[];
    try {
      variables = await describe(sub.table, part.dataLen, part.fingerprint);
    } catch (e) {
      if (!(e instanceof SchemaError)) throw e;
      this.sendFrame(ws, { type: "unsubscribe", handle: sub.handle });
      return this.ended(sub.handle, new HubError(ErrorCode.SchemaMismatch, e.message));
    }
    const path = sub.path.includes("/") ? sub.path : `${this.options.tenant}/${sub.path}`;
    const mirror = new Mirror(path, variables, part.dataLen, part.fingerprint, this);
    sub.mirror = mirror;
    sub.follower = new Follower(mirror, undefined);
    sub.follower.onSchema(part);
    mirror.instance = part.instance;
    sub.live = true;
  }

  private update(ws: WebSocketLike, update: Extract<Frame, { type: "update" }>): void {
    const sub = this.subs.get(update.handle);
    if (!sub?.follower || !sub.mirror) return;
    const resyncs = sub.follower.resyncs;
    let applied;
    try {
      applied = sub.follower.onUpdate(update);
    } catch (e) {
      if (e instanceof Fatal) return this.protocolError(ws, e.code, e.message);
      throw e;
    }
    this.counts.resyncs += sub.follower.resyncs - resyncs;
    if (sub.follower.ackDue !== undefined) {
      this.sendFrame(ws, { type: "ack", handle: sub.handle, generation: sub.follower.ackDue });
      sub.follower.ackDue = undefined;
    }
    if (!applied) return;
    this.counts.updates++;
    if (applied.full) this.counts.fullUpdates++;
    const waiting = sub.waiting;
    sub.waiting = undefined;
    sub.mirror.changed(applied.ranges, applied.generation);
    waiting?.resolve(sub.mirror);
    this.pumpWrites();
  }

  private writeResult(ws: WebSocketLike, result: Extract<Frame, { type: "writeResult" }>): void {
    const write = this.inFlight.get(result.request);
    if (!write) return this.protocolError(ws, ErrorCode.UnexpectedFrame, "an answer to no write");
    this.inFlight.delete(result.request);
    if (result.outcome.type === "applied") {
      this.counts.writesApplied++;
      write.resolve(result.outcome.generation);
    } else {
      this.counts.writesRefused++;
      write.reject(new WriteError(result.outcome.code, result.outcome.reason));
    }
    this.pumpWrites();
  }

  /** The hub ended the subscription `handle` (or refused it). */
  private ended(handle: number, error: HubError): void {
    const sub = this.subs.get(handle);
    if (!sub) return;
    this.subs.delete(handle);
    if (sub.mirror) sub.mirror.ended = error;
    sub.waiting?.reject(error);
    const dropped = this.queued.filter((w) => w.mirror === sub.mirror);
    for (const w of dropped) {
      this.queued.splice(this.queued.indexOf(w), 1);
      w.reject(error);
    }
  }

  /** A protocol error of the hub's: told so, then the connection is dropped and made again. */
  private protocolError(ws: WebSocketLike, code: number, reason: string): void {
    this.sendFrame(ws, { type: "error", code, reason: reason.slice(0, 100) });
    this.sendFrame(ws, { type: "close" });
    this.lost(ws, new HubError(code, reason));
  }

  // --- frames out -------------------------------------------------------------

  private sendSubscribe(sub: Subscription): void {
    const ws = this.ws;
    if (!ws) return;
    const resume = sub.follower?.resumePoint();
    if (sub.mirror) {
      sub.follower = new Follower(sub.mirror, resume);
      this.sendFrame(ws, { type: "subscribe", handle: sub.handle, path: sub.path, resume, variables: false, full: false });
    } else {
      sub.table = [];
      this.sendFrame(ws, { type: "subscribe", handle: sub.handle, path: sub.path, variables: true, full: false });
    }
  }

  /** Sends queued writes while fewer than 8 are unanswered. */
  private pumpWrites(): void {
    const ws = this.ws;
    if (!ws || this.handshake || !this.limits) return;
    while (this.queued.length > 0 && this.inFlight.size < MAX_WRITES) {
      const write = this.queued[0]!;
      const sub = [...this.subs.values()].find((s) => s.mirror === write.mirror);
      if (!sub) {
        this.queued.shift();
        write.reject(write.mirror.ended ?? new ConnectionLost("the mirror is no longer subscribed"));
        continue;
      }
      if (!sub.live) return;
      this.queued.shift();
      const request = this.nextRequest;
      this.nextRequest = (this.nextRequest + 1) >>> 0 || 1;
      // One frame, or its parts back to back: no other Write may come between them.
      let bodies: Uint8Array[];
      try {
        bodies = writeFrames(request, sub.handle, write.variable.name, write.variable.offset, write.value, this.limits.maxFrame);
      } catch (e) {
        write.reject(e as Error);
        continue;
      }
      this.inFlight.set(request, write);
      for (const body of bodies) this.send(ws, body);
    }
  }

  private sendFrame(ws: WebSocketLike, frame: Frame): void {
    this.send(ws, encodeFrame(frame));
  }

  private send(ws: WebSocketLike, body: Uint8Array): void {
    if (ws.readyState !== 1) return;
    ws.send(body);
    this.lastSent = Date.now();
    this.counts.framesOut++;
    this.counts.bytesOut += body.length;
  }

  /** Keep-alive and the dead-peer timeout, with the shorter of ours and the hub's. */
  private tick(ws: WebSocketLike): void {
    if (ws !== this.ws) return;
    const now = Date.now();
    const keepalive = Math.min(KEEPALIVE_MS, this.limits?.keepaliveMs || KEEPALIVE_MS);
    const timeout = Math.min(TIMEOUT_MS, this.limits?.timeoutMs || TIMEOUT_MS);
    if (now - this.lastReceived > timeout) {
      this.sendFrame(ws, { type: "error", code: ErrorCode.Timeout, reason: "nothing heard from the hub" });
      return this.lost(ws, new HubError(ErrorCode.Timeout, "nothing heard from the hub"));
    }
    if (now - this.lastSent >= keepalive) {
      this.pingNonce++;
      this.sendFrame(ws, { type: "ping", nonce: this.pingNonce });
    }
  }
}

/** A binary message's bytes; `undefined` for a text message. */
function bytesOf(data: unknown): Uint8Array | undefined {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (Array.isArray(data)) {
    // The `ws` package's fragments, when binaryType is "fragments".
    const parts = data as Uint8Array[];
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
  return undefined;
}
