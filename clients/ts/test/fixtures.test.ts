// The byte fixtures of spec/wire-format.md §6 and the fingerprint vectors
// of spec/region-layout.md, read from the markdown at test time so that
// this implementation and the Rust one (whose tests check the same bytes)
// cannot drift apart.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { checkByte, cobs, decodeFrame, encodeFrame, fingerprint, type Frame, lengthPrefixed } from "../src/index.js";

const SPEC = new URL("../../../../spec/", import.meta.url);

function section(file: string, start: string, end: string): string {
  const text = readFileSync(new URL(file, SPEC), "utf8");
  const from = text.indexOf(start);
  const to = text.indexOf(end, from);
  assert.ok(from >= 0 && to > from, `${file}: no section from ${start} to ${end}`);
  return text.slice(from, to);
}

const HEX = /^[0-9a-f]{2}$/;

/** Hex bytes as the spec writes them: `01 … 0c` is the run from 01 to 0c. */
function bytes(text: string): Uint8Array | undefined {
  const tokens = text.trim().split(/\s+/);
  const out: number[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (HEX.test(t)) out.push(parseInt(t, 16));
    else if (t === "…" && i > 0 && i + 1 < tokens.length && HEX.test(tokens[i + 1]!)) {
      const to = parseInt(tokens[i + 1]!, 16);
      for (let b = out[out.length - 1]! + 1; b < to; b++) out.push(b);
    } else return undefined;
  }
  return out.length > 0 ? new Uint8Array(out) : undefined;
}

/** A code block's bytes: the hex tokens that begin each line, before its comment. */
function block(text: string): Uint8Array {
  const out: number[] = [];
  for (const line of text.split("\n")) {
    for (const t of line.trim().split(/\s+/)) {
      if (!HEX.test(t)) break;
      out.push(parseInt(t, 16));
    }
  }
  return new Uint8Array(out);
}

interface Fixture {
  /** The bold name before the bytes, e.g. "Hello". */
  name: string;
  /** The text from that name to the bytes. */
  context: string;
  body: Uint8Array;
}

/** Every frame body of §6: code blocks and inline spans, each with the frame named before it. */
function fixtures(): Fixture[] {
  const text = section("wire-format.md", "## 6. Worked examples", "### 6.1");
  const out: Fixture[] = [];
  const token = /```\n([\s\S]*?)```|`([^`]+)`( then (\d+) × `([0-9a-f]{2})`)?/g;
  let name = "";
  let nameAt = 0;
  const names = /\*\*([A-Za-z]+)\*\*/g;
  for (let m = token.exec(text); m; m = token.exec(text)) {
    names.lastIndex = nameAt;
    for (let n = names.exec(text); n && n.index < m.index; n = names.exec(text)) {
      name = n[1]!;
      nameAt = names.lastIndex;
    }
    const context = text.slice(Math.max(0, m.index - 120), m.index);
    if (m[1] !== undefined) {
      out.push({ name, context, body: block(m[1]) });
      continue;
    }
    // A span of bytes follows a colon, a frame's bold name or its value
    // (`{ … }`); others (`56`, the check byte of 41) are mentions in prose.
    const before = text.slice(0, m.index).trimEnd();
    if (!/(:|\*\*|`)$/.test(before)) continue;
    let body = bytes(m[2]!);
    if (!body) continue;
    if (m[3]) body = new Uint8Array([...body, ...new Array<number>(Number(m[4])).fill(parseInt(m[5]!, 16))]);
    out.push({ name, context, body });
  }
  return out;
}

const TYPES: Record<string, Frame["type"]> = {
  Hello: "hello",
  Challenge: "challenge",
  Auth: "auth",
  Welcome: "welcome",
  Error: "error",
  Close: "close",
  Ping: "ping",
  Pong: "pong",
  Subscribe: "subscribe",
  Unsubscribe: "unsubscribe",
  Schema: "schema",
  Update: "update",
  Ack: "ack",
  Write: "write",
  WriteResult: "writeResult",
};

test("every frame body of §6 decodes to its frame and encodes back to the same bytes", () => {
  const all = fixtures();
  const bodies = all.filter((f) => f.name !== "Framing" && !/length prefix:?\s*$/.test(f.context));
  assert.ok(bodies.length >= 20, `only ${bodies.length} fixtures found in the spec`);
  const seen = new Set<string>();
  for (const f of bodies) {
    // A span after "**Close** `05`; **Ping** ..." names its own frame.
    const inline = /\*\*([A-Za-z]+)\*\*[^*`]*(`\{[^`]*\}`\s*)?$/.exec(f.context)?.[1] ?? f.name;
    const frame = decodeFrame(f.body);
    const expected = TYPES[inline];
    if (expected) assert.equal(frame.type, expected, `${inline}: ${hex(f.body)}`);
    seen.add(frame.type);
    assert.deepEqual(hex(encodeFrame(frame)), hex(f.body), `${inline} re-encoded`);
  }
  assert.deepEqual([...seen].sort(), Object.values(TYPES).sort(), "a fixture of every frame");
});

test("the fixtures' fields are those the spec names", () => {
  const decoded = fixtures()
    .filter((f) => f.name !== "Framing")
    .map((f) => {
      try {
        return decodeFrame(f.body);
      } catch {
        return undefined;
      }
    });
  const find = <T extends Frame["type"]>(type: T, pick = 0) =>
    decoded.filter((f): f is Extract<Frame, { type: T }> => f?.type === type)[pick]!;
  assert.deepEqual(find("hello"), { type: "hello", version: 2, maxFrame: 1024, client: "probe", tenant: "acme" });
  assert.deepEqual(find("challenge").nonce, new Uint8Array(32).fill(0x11));
  assert.deepEqual(find("auth").proof, new Uint8Array(32).fill(0x22));
  const welcome = find("welcome");
  assert.equal(welcome.session, 9n);
  assert.deepEqual(welcome.limits, { maxFrame: 4096, maxInFlight: 4, maxSubscriptions: 16, keepaliveMs: 5000, timeoutMs: 15000, write: true });
  assert.deepEqual(welcome.regions, [{ name: "robot", instance: 0x0102030405060708n }]);
  assert.deepEqual(find("error"), { type: "error", code: 2, reason: "memwire protocol 2" });
  assert.deepEqual(find("subscribe"), {
    type: "subscribe",
    handle: 1,
    path: "acme/robot",
    resume: { instance: 0x0102030405060708n, generation: 42n },
    variables: true,
    full: false,
  });
  const schema = find("schema");
  assert.equal(schema.fingerprint, 0x1122334455667788n);
  assert.deepEqual(schema.variables, [{ name: "temperature", kind: 9, count: 1, offset: 8, writable: false }]);
  const update = find("update");
  assert.equal(update.base, 41n);
  assert.equal(update.step, 1n);
  assert.deepEqual(update.ranges, [{ offset: 16, bytes: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]) }]);
  // The same update against the reference 41: the check byte 56.
  const referenced = find("update", 1);
  assert.equal(referenced.check, checkByte(41n));
  assert.equal(checkByte(41n), 0x56);
  assert.deepEqual(find("ack"), { type: "ack", handle: 1, generation: 42n });
  const write = find("write");
  assert.deepEqual(write.target, { type: "variable", name: "setpoint", value: new Uint8Array([0, 0, 0xc0, 0x3f]) });
  assert.deepEqual(find("writeResult"), { type: "writeResult", request: 5, outcome: { type: "applied", generation: 43n } });
  assert.deepEqual(find("writeResult", 1).outcome, { type: "refused", code: 13, reason: "setpoint" });
});

test("the framing fixtures: length prefix and COBS", () => {
  const text = section("wire-format.md", "## 6. Worked examples", "### 6.1");
  const ping = encodeFrame({ type: "ping", nonce: 7n });
  const framing = /\*\*Framing\*\* of Ping[\s\S]*?length prefix `([^`]+)`; COBS `([^`]+)`/.exec(text);
  assert.ok(framing, "the Framing paragraph");
  assert.equal(hex(lengthPrefixed(ping)), hex(bytes(framing[1]!)!));
  assert.equal(hex(cobs(ping)), hex(bytes(framing[2]!)!));
  const ack = /\(body `([^`]+)`\): `([^`]+)`/.exec(text);
  assert.ok(ack, "the COBS of Ack");
  assert.deepEqual(decodeFrame(bytes(ack[1]!)!), { type: "ack", handle: 0, generation: 0n });
  assert.equal(hex(cobs(bytes(ack[1]!)!)), hex(bytes(ack[2]!)!));
  const prefixed = /With its length prefix: `([^`]+)` \((\d+) bytes\)/.exec(text);
  assert.ok(prefixed, "the update with its length prefix");
  const framed = bytes(prefixed[1]!)!;
  assert.equal(framed.length, Number(prefixed[2]));
  const update = fixtures().find((f) => f.name === "Update")!.body;
  assert.equal(hex(lengthPrefixed(update)), hex(framed));
});

test("the fingerprint test vectors of the region layout", async () => {
  const text = section("region-layout.md", "Test vectors", "## Fixture");
  const KIND: Record<string, number> = { u8: 1, u16: 2, u32: 3, u64: 4, i8: 5, i16: 6, i32: 7, i64: 8, f32: 9, f64: 10, bool: 11, bytes: 12 };
  let rows = 0;
  for (const line of text.split("\n")) {
    const m = /^\| (.+) \| `0x([0-9a-f]{16})` \|$/.exec(line);
    if (!m) continue;
    const entries = [...m[1]!.matchAll(/`(\S+) (\S+) (\d+) @(\d+)`/g)].map((v) => ({
      name: v[1]!,
      kind: KIND[v[2]!]!,
      count: Number(v[3]),
      offset: Number(v[4]),
      writable: false,
    }));
    assert.equal(await fingerprint(entries), BigInt(`0x${m[2]}`), line);
    rows++;
  }
  assert.equal(rows, 4, "four vectors");
});

test("what does not decode is refused", () => {
  for (const bad of [
    [],
    [0x0b], // version 1's Update tag
    [0x0f],
    [0x05, 0x00], // trailing bytes
    [0x0c, 0x01], // cut short
    [0x00, 0x02, 0x7f, 0x05, 0x70, 0x72, 0x6f, 0x62, 0x65, 0x04, 0x61, 0x63, 0x6d, 0x65], // max_frame 127
    [0x08, 0x01, 0x01, 0x61, 0x00, 0x04], // subscribe flag bit 2
    [0x41, 0x01, 0x56, 0x10, 0x00], // an empty range
  ]) {
    assert.throws(() => decodeFrame(new Uint8Array(bad)), `${hex(new Uint8Array(bad))}`);
  }
});

function hex(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join(" ");
}
