// The frames of spec/wire-format.md §4, encoded and decoded with the rules
// of §2 and the field bounds of §4.1.

import { DecodeError, Reader, Writer, utf8Bytes } from "./wire.js";
import { kindSize } from "./schema.js";

/** The protocol version this client speaks. */
export const PROTOCOL_VERSION = 2;
/** The smallest maximum frame size a peer may announce. */
export const MIN_FRAME = 128;

/** Error codes (spec §5); a code this version does not know reads as 1. */
export const ErrorCode = {
  Other: 1,
  UnsupportedVersion: 2,
  Malformed: 3,
  FrameTooLarge: 4,
  UnexpectedFrame: 5,
  AuthFailed: 6,
  HandshakeTimeout: 7,
  Timeout: 8,
  UnknownRegion: 9,
  AccessDenied: 10,
  SchemaMismatch: 11,
  BaseMismatch: 12,
  ReadOnly: 13,
  OutOfBounds: 14,
  UnknownVariable: 15,
  BadValue: 16,
  UnknownHandle: 17,
  HandleInUse: 18,
  LimitExceeded: 19,
  RateLimited: 20,
  ShuttingDown: 21,
  Busy: 22,
} as const;

/** The name of error code `code`. */
export function errorName(code: number): string {
  for (const [name, value] of Object.entries(ErrorCode)) if (value === code) return name;
  return "Other";
}

export interface Limits {
  maxFrame: number;
  maxInFlight: number;
  maxSubscriptions: number;
  keepaliveMs: number;
  timeoutMs: number;
  write: boolean;
}

export interface RegionInfo {
  name: string;
  instance: bigint;
}

export interface Resume {
  instance: bigint;
  generation: bigint;
}

export interface VarEntry {
  name: string;
  kind: number;
  count: number;
  offset: number;
  writable: boolean;
}

/** A range of an update or a write, its offset made absolute. */
export interface Range {
  offset: number;
  bytes: Uint8Array;
}

export type WriteTarget =
  | { type: "ranges"; ranges: Range[] }
  | { type: "variable"; name: string; value: Uint8Array }
  | { type: "part"; last: boolean; ranges: Range[] };

export type WriteOutcome =
  | { type: "applied"; generation: bigint }
  | { type: "refused"; code: number; reason: string };

export type Frame =
  | { type: "hello"; version: number; maxFrame: number; client: string; tenant: string }
  | { type: "challenge"; version: number; nonce: Uint8Array }
  | { type: "auth"; proof: Uint8Array }
  | { type: "welcome"; session: bigint; limits: Limits; complete: boolean; regions: RegionInfo[] }
  | { type: "error"; code: number; handle?: number; reason: string }
  | { type: "close" }
  | { type: "ping"; nonce: bigint }
  | { type: "pong"; nonce: bigint }
  | {
      type: "subscribe";
      handle: number;
      path: string;
      resume?: Resume;
      variables: boolean;
      full: boolean;
    }
  | { type: "unsubscribe"; handle: number }
  | {
      type: "schema";
      handle: number;
      instance: bigint;
      fingerprint: bigint;
      dataLen: number;
      count: number;
      first: number;
      variables: VarEntry[];
    }
  | {
      type: "update";
      handle: number;
      last: boolean;
      /** The base, when the part names it; else `check` is the reference's check byte. */
      base?: bigint;
      check?: number;
      step: bigint;
      ranges: Range[];
    }
  | { type: "ack"; handle: number; generation: bigint }
  | { type: "write"; request: number; handle: number; target: WriteTarget }
  | { type: "writeResult"; request: number; outcome: WriteOutcome };

const TAG = {
  hello: 0,
  challenge: 1,
  auth: 2,
  welcome: 3,
  error: 4,
  close: 5,
  ping: 6,
  pong: 7,
  subscribe: 8,
  unsubscribe: 9,
  schema: 10,
  ack: 12,
  write: 13,
  writeResult: 14,
} as const;
const UPDATE_TAG = 0x40;
const NAME = /^[A-Za-z0-9_.-]{1,40}$/;

/** The check byte of generation `g`: the top byte of g × 0x9E3779B97F4A7C15 mod 2⁶⁴. */
export function checkByte(g: bigint): number {
  return Number(BigInt.asUintN(64, g * 0x9e3779b97f4a7c15n) >> 56n);
}

function name(s: string, what: string): string {
  if (!NAME.test(s)) throw new DecodeError(`${what} is not a name: ${JSON.stringify(s)}`);
  return s;
}

function bounded(s: string, max: number, what: string): string {
  if (utf8Bytes(s).length > max) throw new DecodeError(`${what} over ${max} bytes`);
  return s;
}

function ranges(bytes: Uint8Array): Range[] {
  const r = new Reader(bytes);
  const out: Range[] = [];
  let end = 0;
  while (r.remaining > 0) {
    const offset = end + r.u32();
    const data = r.bytesField();
    if (data.length === 0) throw new DecodeError("empty range");
    if (offset + data.length > 0xffffffff) throw new DecodeError("range past 2^32 - 1");
    out.push({ offset, bytes: data });
    end = offset + data.length;
  }
  return out;
}

function writeRanges(w: Writer, list: Range[]): void {
  let end = 0;
  for (const range of list) {
    if (range.offset < end) throw new RangeError("ranges must ascend without overlap");
    w.varint(range.offset - end).bytesField(range.bytes);
    end = range.offset + range.bytes.length;
  }
}

function rangesField(list: Range[]): Uint8Array {
  const w = new Writer();
  writeRanges(w, list);
  return w.finish();
}

function varEntries(bytes: Uint8Array): VarEntry[] {
  const r = new Reader(bytes);
  const out: VarEntry[] = [];
  while (r.remaining > 0) {
    const entry = {
      name: name(r.str(), "variable name"),
      kind: r.u8(),
      count: r.u32(),
      offset: r.u32(),
      writable: r.bool(),
    };
    const size = kindSize(entry.kind);
    if (size === undefined) throw new DecodeError(`unknown kind ${entry.kind}`);
    if (entry.count < 1) throw new DecodeError("variable of no elements");
    if (entry.offset + entry.count * size > 0xffffffff) throw new DecodeError("variable past 2^32 - 1");
    out.push(entry);
  }
  return out;
}

/** Decodes one frame body. */
export function decodeFrame(body: Uint8Array): Frame {
  const r = new Reader(body);
  const tag = r.u32();
  let frame: Frame;
  if (tag >= UPDATE_TAG && tag < UPDATE_TAG + 8) {
    const flags = tag - UPDATE_TAG;
    const handle = r.u16();
    const named = (flags & 2) !== 0;
    const base = named ? r.u64() : undefined;
    const check = named ? undefined : r.u8();
    const step = (flags & 4) !== 0 ? r.u64() : 1n;
    frame = { type: "update", handle, last: (flags & 1) !== 0, base, check, step, ranges: ranges(r.rest()) };
    if (frame.base === undefined) delete frame.base;
    if (frame.check === undefined) delete frame.check;
    return frame;
  }
  switch (tag) {
    case TAG.hello: {
      frame = {
        type: "hello",
        version: r.u16(),
        maxFrame: r.u32(),
        client: bounded(r.str(), 64, "client name"),
        tenant: name(r.str(), "tenant"),
      };
      if (frame.maxFrame < MIN_FRAME) throw new DecodeError("max_frame below 128");
      break;
    }
    case TAG.challenge:
      frame = { type: "challenge", version: r.u16(), nonce: r.take(32).slice() };
      break;
    case TAG.auth:
      frame = { type: "auth", proof: r.take(32).slice() };
      break;
    case TAG.welcome: {
      const session = r.u64();
      const limits: Limits = {
        maxFrame: r.u32(),
        maxInFlight: r.u16(),
        maxSubscriptions: r.u16(),
        keepaliveMs: r.u32(),
        timeoutMs: r.u32(),
        write: r.bool(),
      };
      if (limits.maxFrame < MIN_FRAME) throw new DecodeError("max_frame below 128");
      const complete = r.bool();
      const list = new Reader(r.bytesField());
      const regions: RegionInfo[] = [];
      while (list.remaining > 0) {
        regions.push({ name: name(list.str(), "region name"), instance: list.fixedU64() });
      }
      frame = { type: "welcome", session, limits, complete, regions };
      break;
    }
    case TAG.error: {
      const code = r.u16();
      const handle = r.option(() => r.u16());
      const reason = bounded(r.str(), 100, "reason");
      frame = { type: "error", code: code >= 1 && code <= 22 ? code : ErrorCode.Other, reason };
      if (handle !== undefined) frame.handle = handle;
      break;
    }
    case TAG.close:
      frame = { type: "close" };
      break;
    case TAG.ping:
      frame = { type: "ping", nonce: r.u64() };
      break;
    case TAG.pong:
      frame = { type: "pong", nonce: r.u64() };
      break;
    case TAG.subscribe: {
      const handle = r.u16();
      const path = r.str();
      const resume = r.option(() => ({ instance: r.fixedU64(), generation: r.u64() }));
      const flags = r.u8();
      if (flags > 3) throw new DecodeError("subscribe flags");
      for (const part of path.split("/")) name(part, "path part");
      if (path.split("/").length > 2) throw new DecodeError("path of more than two parts");
      frame = { type: "subscribe", handle, path, variables: (flags & 1) !== 0, full: (flags & 2) !== 0 };
      if (resume) frame.resume = resume;
      break;
    }
    case TAG.unsubscribe:
      frame = { type: "unsubscribe", handle: r.u16() };
      break;
    case TAG.schema: {
      frame = {
        type: "schema",
        handle: r.u16(),
        instance: r.fixedU64(),
        fingerprint: r.fixedU64(),
        dataLen: r.u32(),
        count: r.u32(),
        first: r.u32(),
        variables: varEntries(r.bytesField()),
      };
      if (frame.first > frame.count) throw new DecodeError("schema part's first past its count");
      break;
    }
    case TAG.ack:
      frame = { type: "ack", handle: r.u16(), generation: r.u64() };
      break;
    case TAG.write: {
      const request = r.u32();
      const handle = r.u16();
      const variant = r.u32();
      let target: WriteTarget;
      if (variant === 0) target = { type: "ranges", ranges: ranges(r.bytesField()) };
      else if (variant === 1) target = { type: "variable", name: name(r.str(), "variable name"), value: r.bytesField() };
      else if (variant === 2) target = { type: "part", last: r.bool(), ranges: ranges(r.bytesField()) };
      else throw new DecodeError(`write target ${variant}`);
      frame = { type: "write", request, handle, target };
      break;
    }
    case TAG.writeResult: {
      const request = r.u32();
      const variant = r.u32();
      let outcome: WriteOutcome;
      if (variant === 0) outcome = { type: "applied", generation: r.u64() };
      else if (variant === 1) {
        const code = r.u16();
        outcome = { type: "refused", code: code >= 1 && code <= 22 ? code : ErrorCode.Other, reason: bounded(r.str(), 100, "reason") };
      } else throw new DecodeError(`write outcome ${variant}`);
      frame = { type: "writeResult", request, outcome };
      break;
    }
    default:
      throw new DecodeError(`unknown frame tag ${tag}`);
  }
  r.end();
  return frame;
}

/** Encodes `frame` as its body. */
export function encodeFrame(frame: Frame): Uint8Array {
  const w = new Writer();
  switch (frame.type) {
    case "hello":
      w.varint(TAG.hello).varint(frame.version).varint(frame.maxFrame).str(frame.client).str(frame.tenant);
      break;
    case "challenge":
      w.varint(TAG.challenge).varint(frame.version).raw(frame.nonce);
      break;
    case "auth":
      w.varint(TAG.auth).raw(frame.proof);
      break;
    case "welcome": {
      const l = frame.limits;
      const list = new Writer();
      for (const region of frame.regions) list.str(region.name).fixedU64(region.instance);
      w.varint(TAG.welcome)
        .varint(frame.session)
        .varint(l.maxFrame)
        .varint(l.maxInFlight)
        .varint(l.maxSubscriptions)
        .varint(l.keepaliveMs)
        .varint(l.timeoutMs)
        .bool(l.write)
        .bool(frame.complete)
        .bytesField(list.finish());
      break;
    }
    case "error":
      w.varint(TAG.error).varint(frame.code);
      if (frame.handle === undefined) w.bool(false);
      else w.bool(true).varint(frame.handle);
      w.str(frame.reason);
      break;
    case "close":
      w.varint(TAG.close);
      break;
    case "ping":
      w.varint(TAG.ping).varint(frame.nonce);
      break;
    case "pong":
      w.varint(TAG.pong).varint(frame.nonce);
      break;
    case "subscribe":
      w.varint(TAG.subscribe).varint(frame.handle).str(frame.path);
      if (frame.resume) w.bool(true).fixedU64(frame.resume.instance).varint(frame.resume.generation);
      else w.bool(false);
      w.u8((frame.variables ? 1 : 0) | (frame.full ? 2 : 0));
      break;
    case "unsubscribe":
      w.varint(TAG.unsubscribe).varint(frame.handle);
      break;
    case "schema": {
      const table = new Writer();
      for (const v of frame.variables) table.str(v.name).u8(v.kind).varint(v.count).varint(v.offset).bool(v.writable);
      w.varint(TAG.schema)
        .varint(frame.handle)
        .fixedU64(frame.instance)
        .fixedU64(frame.fingerprint)
        .varint(frame.dataLen)
        .varint(frame.count)
        .varint(frame.first)
        .bytesField(table.finish());
      break;
    }
    case "update": {
      const named = frame.base !== undefined;
      const stepped = frame.step !== 1n;
      w.varint(UPDATE_TAG | (frame.last ? 1 : 0) | (named ? 2 : 0) | (stepped ? 4 : 0)).varint(frame.handle);
      if (named) w.varint(frame.base!);
      else w.u8(frame.check ?? 0);
      if (stepped) w.varint(frame.step);
      writeRanges(w, frame.ranges);
      break;
    }
    case "ack":
      w.varint(TAG.ack).varint(frame.handle).varint(frame.generation);
      break;
    case "write": {
      w.varint(TAG.write).varint(frame.request).varint(frame.handle);
      const t = frame.target;
      if (t.type === "ranges") w.varint(0).bytesField(rangesField(t.ranges));
      else if (t.type === "variable") w.varint(1).str(t.name).bytesField(t.value);
      else w.varint(2).bool(t.last).bytesField(rangesField(t.ranges));
      break;
    }
    case "writeResult": {
      w.varint(TAG.writeResult).varint(frame.request);
      const o = frame.outcome;
      if (o.type === "applied") w.varint(0).varint(o.generation);
      else w.varint(1).varint(o.code).str(o.reason);
      break;
    }
  }
  return w.finish();
}
