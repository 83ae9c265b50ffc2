// The handshake's proof (spec/wire-format.md §4.2): HMAC-SHA256 keyed with
// the client's secret over "memwire.auth.v1", the challenge's nonce and the
// exact bytes of the client's Hello body, through WebCrypto.

import { utf8Bytes } from "./wire.js";

const LABEL = utf8Bytes("memwire.auth.v1");

/** The Auth frame's proof for `nonce` and the Hello body `hello`. */
export async function proof(secret: Uint8Array, nonce: Uint8Array, hello: Uint8Array): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", new Uint8Array(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const message = new Uint8Array(LABEL.length + nonce.length + hello.length);
  message.set(LABEL);
  message.set(nonce, LABEL.length);
  message.set(hello, LABEL.length + nonce.length);
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, message));
}
