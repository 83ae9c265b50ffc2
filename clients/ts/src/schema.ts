// Variables and schemas (spec/region-layout.md, "Variable entry" and
// "Fingerprint"): kind codes and sizes, a described region's variable table
// checked and turned into the mirror's layout.

import { utf8Bytes } from "./wire.js";

/** The kinds by code (spec §4.1 and region-layout.md). */
export const KINDS: Record<number, { name: string; size: number }> = {
  1: { name: "u8", size: 1 },
  2: { name: "u16", size: 2 },
  3: { name: "u32", size: 4 },
  4: { name: "u64", size: 8 },
  5: { name: "i8", size: 1 },
  6: { name: "i16", size: 2 },
  7: { name: "i32", size: 4 },
  8: { name: "i64", size: 8 },
  9: { name: "f32", size: 4 },
  10: { name: "f64", size: 8 },
  11: { name: "bool", size: 1 },
  12: { name: "bytes", size: 1 },
};

/** The size of one element of kind `code`; `undefined` for no kind. */
export function kindSize(code: number): number | undefined {
  return KINDS[code]?.size;
}

/** One variable of a mirror's schema, as the page and the reads see it. */
export interface Variable {
  name: string;
  /** `u8` … `i64`, `f32`, `f64`, `bool`, `bytes`. */
  kind: string;
  /** Elements: 1 for a scalar. */
  count: number;
  /** Whether clients with the right may write it. */
  writable: boolean;
  /** Bytes from the start of the data area. */
  offset: number;
  /** Bytes: count × the kind's size. */
  size: number;
}

/** A variable as the wire describes it: with its kind's code. */
export interface Entry {
  name: string;
  kind: number;
  count: number;
  offset: number;
  writable: boolean;
}

/** Why a variable table is not a schema. */
export class SchemaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SchemaError";
  }
}

/**
 * The schema's fingerprint: SHA-256 over "memwire.schema.v1", the variable
 * count and each variable's name, kind, count and offset in offset order;
 * the digest's first 8 bytes as a little-endian u64.
 */
export async function fingerprint(entries: readonly Entry[]): Promise<bigint> {
  const sorted = [...entries].sort((a, b) => a.offset - b.offset);
  const parts: number[] = [...utf8Bytes("memwire.schema.v1")];
  const u32 = (v: number) => parts.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  u32(sorted.length);
  for (const e of sorted) {
    const name = utf8Bytes(e.name);
    parts.push(name.length, ...name, e.kind);
    u32(e.count);
    u32(e.offset);
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(parts)));
  return new DataView(digest.buffer).getBigUint64(0, true);
}

/**
 * The variables of a described region, checked as a schema: sorted by
 * offset, each aligned to its kind's size, no overlap, unique names, all
 * inside `dataLen` bytes, and the table's fingerprint `expected`.
 */
export async function describe(entries: readonly Entry[], dataLen: number, expected: bigint): Promise<Variable[]> {
  const names = new Set<string>();
  let end = 0;
  const variables: Variable[] = [];
  for (const e of entries) {
    const kind = KINDS[e.kind];
    if (!kind) throw new SchemaError(`variable ${e.name}: unknown kind ${e.kind}`);
    if (names.has(e.name)) throw new SchemaError(`two variables named ${e.name}`);
    names.add(e.name);
    if (e.offset < end) throw new SchemaError(`variable ${e.name} overlaps the one before it or is out of order`);
    if (e.offset % kind.size !== 0) throw new SchemaError(`variable ${e.name} is not aligned`);
    const size = e.count * kind.size;
    end = e.offset + size;
    if (end > dataLen) throw new SchemaError(`variable ${e.name} ends past the data area`);
    variables.push({ name: e.name, kind: kind.name, count: e.count, writable: e.writable, offset: e.offset, size });
  }
  const actual = await fingerprint(entries);
  if (actual !== expected) {
    throw new SchemaError(`fingerprint 0x${actual.toString(16)} is not the announced 0x${expected.toString(16)}`);
  }
  return variables;
}
