// memwire for browsers and Node: a client of a memwire hub over WebSocket,
// written from spec/wire-format.md. See docs/web.md.

export { Client, type ClientOptions, type RegionEntry, type State, type Stats, type WebSocketClass, type WebSocketLike } from "./client.js";
export { Mirror, type ChangeListener } from "./mirror.js";
export { ConnectionLost, HubError, WriteError } from "./errors.js";
export { ErrorCode, errorName, PROTOCOL_VERSION, MIN_FRAME, checkByte, decodeFrame, encodeFrame, type Frame, type Limits } from "./frames.js";
export { fingerprint, KINDS, SchemaError, type Variable } from "./schema.js";
export { cobs, lengthPrefixed } from "./framing.js";
export { proof } from "./auth.js";
export { DecodeError } from "./wire.js";
export type { Value } from "./values.js";
