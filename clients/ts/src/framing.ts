// Framing (spec/wire-format.md §3). Over WebSocket a body travels alone in
// its message (§3.3, bare); the two stream framings are here for tools and
// for the spec's fixtures.

/** `body` preceded by its length as a shortest LEB128 varint (§3.1). */
export function lengthPrefixed(body: Uint8Array): Uint8Array {
  const prefix: number[] = [];
  let n = body.length;
  while (n >= 0x80) {
    prefix.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  prefix.push(n);
  const out = new Uint8Array(prefix.length + body.length);
  out.set(prefix);
  out.set(body, prefix.length);
  return out;
}

/** `body` encoded with COBS and followed by its `00` delimiter (§3.2). */
export function cobs(body: Uint8Array): Uint8Array {
  const out: number[] = [0];
  let code = 1;
  let codeAt = 0;
  for (const byte of body) {
    if (byte === 0) {
      out[codeAt] = code;
      codeAt = out.length;
      out.push(0);
      code = 1;
      continue;
    }
    out.push(byte);
    code++;
    if (code === 0xff) {
      out[codeAt] = code;
      codeAt = out.length;
      out.push(0);
      code = 1;
    }
  }
  out[codeAt] = code;
  out.push(0);
  return new Uint8Array(out);
}
