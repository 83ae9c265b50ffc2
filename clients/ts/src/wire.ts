// The postcard encoding of spec/wire-format.md §2: varints, fixed u64s,
// booleans, options, strings and byte strings. `Reader` checks every length
// against the bytes present and throws `DecodeError` on anything else.

/** A body that does not decode (spec/wire-format.md §2, §4.1). */
export class DecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DecodeError";
  }
}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder("utf-8", { fatal: true });

/** Reads postcard values from a body, front to back. */
export class Reader {
  private at = 0;

  constructor(private readonly bytes: Uint8Array) {}

  /** Bytes not read yet. */
  get remaining(): number {
    return this.bytes.length - this.at;
  }

  u8(): number {
    if (this.at >= this.bytes.length) throw new DecodeError("unexpected end of body");
    return this.bytes[this.at++]!;
  }

  /** An unsigned LEB128 varint of at most `bits` bits, as a bigint. */
  varBig(bits: number): bigint {
    let value = 0n;
    let shift = 0n;
    const max = Math.ceil(bits / 7);
    for (let i = 0; i < max; i++) {
      const byte = this.u8();
      value |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) {
        if (value >> BigInt(bits) !== 0n) throw new DecodeError(`varint over ${bits} bits`);
        return value;
      }
      shift += 7n;
    }
    throw new DecodeError(`varint over ${bits} bits`);
  }

  u16(): number {
    return Number(this.varBig(16));
  }

  u32(): number {
    return Number(this.varBig(32));
  }

  u64(): bigint {
    return this.varBig(64);
  }

  /** 8 bytes little-endian. */
  fixedU64(): bigint {
    const raw = this.take(8);
    return new DataView(raw.buffer, raw.byteOffset, 8).getBigUint64(0, true);
  }

  bool(): boolean {
    const b = this.u8();
    if (b > 1) throw new DecodeError(`bool byte ${b}`);
    return b === 1;
  }

  option<T>(read: () => T): T | undefined {
    return this.bool() ? read() : undefined;
  }

  /** `n` bytes, a view into the body. */
  take(n: number): Uint8Array {
    if (n > this.remaining) throw new DecodeError(`length ${n} past the end of the body`);
    const out = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  bytesField(): Uint8Array {
    return this.take(this.u32());
  }

  str(): string {
    try {
      return utf8Strict.decode(this.bytesField());
    } catch (e) {
      if (e instanceof DecodeError) throw e;
      throw new DecodeError("string is not UTF-8");
    }
  }

  /** The rest of the body. */
  rest(): Uint8Array {
    return this.take(this.remaining);
  }

  /** Throws unless every byte was read (spec §2, "Whole input"). */
  end(): void {
    if (this.remaining !== 0) throw new DecodeError(`${this.remaining} trailing bytes`);
  }
}

/** Writes postcard values into a growing buffer. */
export class Writer {
  private buf = new Uint8Array(64);
  private len = 0;

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  u8(b: number): this {
    this.room(1);
    this.buf[this.len++] = b & 0xff;
    return this;
  }

  /** An unsigned LEB128 varint in its shortest form. */
  varint(value: number | bigint): this {
    let v = BigInt(value);
    if (v < 0n) throw new RangeError("negative varint");
    while (v >= 0x80n) {
      this.u8(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    return this.u8(Number(v));
  }

  fixedU64(value: bigint): this {
    this.room(8);
    new DataView(this.buf.buffer, this.len, 8).setBigUint64(0, BigInt.asUintN(64, value), true);
    this.len += 8;
    return this;
  }

  bool(b: boolean): this {
    return this.u8(b ? 1 : 0);
  }

  raw(bytes: Uint8Array): this {
    this.room(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
    return this;
  }

  bytesField(bytes: Uint8Array): this {
    return this.varint(bytes.length).raw(bytes);
  }

  str(s: string): this {
    return this.bytesField(utf8.encode(s));
  }

  /** The bytes written. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/** `s` as UTF-8. */
export function utf8Bytes(s: string): Uint8Array {
  return utf8.encode(s);
}
