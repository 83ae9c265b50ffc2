// Values as the page shows them, and text typed into a field as the value
// a write sends, by the variable's kind.

/** A variable of a region, as the client describes it. */
export interface Variable {
  name: string;
  kind: string;
  count: number;
  writable: boolean;
  offset: number;
  size: number;
}

/** What a mirror's `read` returns. */
export type Value = number | bigint | boolean | ArrayLike<number | bigint> | Uint8Array;

const INTEGER = /^[ui](8|16|32|64)$/;

/** Whether a variable's elements are numbers a plot can draw. */
export function isNumeric(v: Variable): boolean {
  return v.kind === "f32" || v.kind === "f64" || INTEGER.test(v.kind);
}

/** A number of at most six significant digits, without trailing zeros. */
export function number(x: number | bigint): string {
  if (typeof x === "bigint" || Number.isInteger(x)) return String(x);
  if (!Number.isFinite(x)) return String(x);
  return String(Number(x.toPrecision(6)));
}

/** The elements of an array value as plain numbers (for plots). */
export function numbers(value: Value): number[] {
  if (typeof value === "object" && value !== null && "length" in value) {
    return Array.from(value as ArrayLike<number | bigint>, Number);
  }
  return [Number(value)];
}

/** The text of a value: bytes as text when printable, else hex. */
export function show(v: Variable, value: Value): string {
  if (v.kind === "bytes") {
    const bytes = value as Uint8Array;
    const end = bytes.indexOf(0);
    const used = end < 0 ? bytes : bytes.subarray(0, end);
    if (used.every((b) => b >= 0x20 && b < 0x7f)) return JSON.stringify(String.fromCharCode(...used));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number" || typeof value === "bigint") return number(value);
  const xs = Array.from(value as ArrayLike<number | bigint>);
  if (v.kind === "bool") return `[${xs.map((x) => (x ? "true" : "false")).join(", ")}]`;
  if (xs.length <= 8) return `[${xs.map(number).join(", ")}]`;
  const ns = xs.map(Number);
  const min = Math.min(...ns);
  const max = Math.max(...ns);
  return `${xs.length} values, min ${number(min)}, max ${number(max)}, last ${number(xs[xs.length - 1])}`;
}

/** An error for text that is not a value of the variable. */
export class Unreadable extends Error {}

/** The value typed for `v`, in the form a mirror's `set` takes. */
export function parse(v: Variable, text: string): Value {
  if (v.kind === "bytes") return new TextEncoder().encode(text);
  const words = v.count === 1 ? [text.trim()] : text.split(",").map((w) => w.trim()).filter((w) => w !== "");
  if (v.count > 1 && words.length !== v.count) {
    throw new Unreadable(`${v.name} takes ${v.count} values, separated by commas (${words.length} given)`);
  }
  const values = words.map((w) => element(v, w));
  if (v.count === 1) return values[0] as number | bigint | boolean;
  if (v.kind === "bool") return Uint8Array.from(values as boolean[], (b) => (b ? 1 : 0));
  return typed(v.kind, values as (number | bigint)[]);
}

function element(v: Variable, word: string): number | bigint | boolean {
  if (v.kind === "bool") {
    if (word === "true" || word === "1") return true;
    if (word === "false" || word === "0") return false;
    throw new Unreadable(`${v.name} is true or false, not ${JSON.stringify(word)}`);
  }
  if (v.kind === "u64" || v.kind === "i64") {
    try {
      return BigInt(word);
    } catch {
      throw new Unreadable(`${v.name} is an integer, not ${JSON.stringify(word)}`);
    }
  }
  const x = Number(word);
  if (word === "" || Number.isNaN(x)) {
    throw new Unreadable(`${v.name} is a number, not ${JSON.stringify(word)}`);
  }
  if (INTEGER.test(v.kind) && !Number.isInteger(x)) {
    throw new Unreadable(`${v.name} is an integer, not ${JSON.stringify(word)}`);
  }
  return x;
}

function typed(kind: string, xs: (number | bigint)[]): Value {
  switch (kind) {
    case "u8": return Uint8Array.from(xs as number[]);
    case "u16": return Uint16Array.from(xs as number[]);
    case "u32": return Uint32Array.from(xs as number[]);
    case "i8": return Int8Array.from(xs as number[]);
    case "i16": return Int16Array.from(xs as number[]);
    case "i32": return Int32Array.from(xs as number[]);
    case "u64": return BigUint64Array.from(xs as bigint[]);
    case "i64": return BigInt64Array.from(xs as bigint[]);
    case "f32": return Float32Array.from(xs as number[]);
    default: return Float64Array.from(xs as number[]);
  }
}
