// A variable's value read from and written to a data area, little-endian
// (spec/region-layout.md): numbers for 8- to 32-bit integers and floats,
// bigints for 64-bit integers, booleans for bool, and typed arrays for
// arrays (count > 1) and for bytes.

import type { Variable } from "./schema.js";

/** A value a mirror reads or writes. */
export type Value =
  | number
  | bigint
  | boolean
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Float32Array
  | Float64Array;

type ArrayType =
  | Uint8ArrayConstructor
  | Uint16ArrayConstructor
  | Uint32ArrayConstructor
  | BigUint64ArrayConstructor
  | Int8ArrayConstructor
  | Int16ArrayConstructor
  | Int32ArrayConstructor
  | BigInt64ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor;

const ARRAYS: Record<string, ArrayType> = {
  u8: Uint8Array,
  u16: Uint16Array,
  u32: Uint32Array,
  u64: BigUint64Array,
  i8: Int8Array,
  i16: Int16Array,
  i32: Int32Array,
  i64: BigInt64Array,
  f32: Float32Array,
  f64: Float64Array,
  bool: Uint8Array,
  bytes: Uint8Array,
};

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function element(view: DataView, at: number, kind: string): number | bigint | boolean {
  switch (kind) {
    case "u8":
    case "bytes":
      return view.getUint8(at);
    case "u16":
      return view.getUint16(at, true);
    case "u32":
      return view.getUint32(at, true);
    case "u64":
      return view.getBigUint64(at, true);
    case "i8":
      return view.getInt8(at);
    case "i16":
      return view.getInt16(at, true);
    case "i32":
      return view.getInt32(at, true);
    case "i64":
      return view.getBigInt64(at, true);
    case "f32":
      return view.getFloat32(at, true);
    case "f64":
      return view.getFloat64(at, true);
    case "bool":
      return view.getUint8(at) !== 0;
  }
  throw new TypeError(`unknown kind ${kind}`);
}

function putElement(view: DataView, at: number, kind: string, value: unknown): void {
  const num = (): number => {
    if (typeof value === "number") return value;
    if (typeof value === "bigint") return Number(value);
    if (typeof value === "boolean") return value ? 1 : 0;
    throw new TypeError(`a ${kind} takes a number, not ${typeof value}`);
  };
  const big = (): bigint => {
    if (typeof value === "bigint") return value;
    if (typeof value === "number" && Number.isInteger(value)) return BigInt(value);
    throw new TypeError(`a ${kind} takes a bigint or an integer`);
  };
  switch (kind) {
    case "u8":
    case "bytes":
      return view.setUint8(at, num());
    case "u16":
      return view.setUint16(at, num(), true);
    case "u32":
      return view.setUint32(at, num(), true);
    case "u64":
      return view.setBigUint64(at, big(), true);
    case "i8":
      return view.setInt8(at, num());
    case "i16":
      return view.setInt16(at, num(), true);
    case "i32":
      return view.setInt32(at, num(), true);
    case "i64":
      return view.setBigInt64(at, big(), true);
    case "f32":
      return view.setFloat32(at, num(), true);
    case "f64":
      return view.setFloat64(at, num(), true);
    case "bool":
      if (typeof value !== "boolean" && value !== 0 && value !== 1) throw new TypeError("a bool takes true or false");
      return view.setUint8(at, value === true || value === 1 ? 1 : 0);
  }
  throw new TypeError(`unknown kind ${kind}`);
}

/** The value of `v` in `data` (a copy: later updates do not change it). */
export function readValue(data: Uint8Array, v: Variable): Value {
  const bytes = data.subarray(v.offset, v.offset + v.size);
  if (v.kind === "bytes") return bytes.slice();
  const Array = ARRAYS[v.kind]!;
  if (v.count === 1) return element(new DataView(bytes.buffer, bytes.byteOffset, bytes.length), 0, v.kind) as Value;
  if (LITTLE_ENDIAN) return new Array(bytes.slice().buffer);
  const out = new Array(v.count);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  for (let i = 0; i < v.count; i++) (out as unknown as unknown[])[i] = element(view, i * Array.BYTES_PER_ELEMENT, v.kind === "bool" ? "u8" : v.kind);
  return out as Value;
}

/** `value` as the bytes of `v` (its whole value, every element). */
export function encodeValue(v: Variable, value: unknown): Uint8Array {
  const out = new Uint8Array(v.size);
  const view = new DataView(out.buffer);
  const size = v.size / v.count;
  if (v.count === 1 && v.kind !== "bytes") {
    putElement(view, 0, v.kind, value);
    return out;
  }
  const items = value as ArrayLike<unknown> | undefined;
  if (items === null || typeof items !== "object" || typeof items.length !== "number") {
    throw new TypeError(`${v.name} is an array of ${v.count}: give ${v.count} elements`);
  }
  if (items.length !== v.count) throw new RangeError(`${v.name} takes ${v.count} elements, not ${items.length}`);
  for (let i = 0; i < v.count; i++) putElement(view, i * size, v.kind, items[i]);
  return out;
}
