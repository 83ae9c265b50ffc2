// A write as the frames it takes (spec/wire-format.md §4.5): one Write
// frame when it fits the hub's `max_frame`, else Write frames with a `Part`
// target sharing the request id, each filled to the frame limit, the value
// cut across them, only the last with `last` set. The hub applies none of
// them until the last arrives, then all in one commit, and answers once.
// The reference encoder is `WriteParts` (core/src/codec/write_parts.rs).

import { encodeFrame } from "./frames.js";

/** The bytes a varint of `n` takes. */
function varintLen(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    len++;
  }
  return len;
}

/**
 * The frame bodies of write `request` to subscription `handle` setting the
 * variable `name` (at `offset` of the data area) to `value`, each at most
 * `maxFrame` bytes: the one by-name Write when it fits, else the parts.
 */
export function writeFrames(
  request: number,
  handle: number,
  name: string,
  offset: number,
  value: Uint8Array,
  maxFrame: number,
): Uint8Array[] {
  const whole = encodeFrame({ type: "write", request, handle, target: { type: "variable", name, value } });
  if (whole.length <= maxFrame) return [whole];
  // Tag, request id, handle, target tag and the last flag, then the ranges'
  // length (at most the frame's) and one range entry: its gap from offset 0
  // (each part's gaps count from 0) and its bytes.
  const header = 1 + varintLen(request) + varintLen(handle) + 2;
  const budget = maxFrame - header - varintLen(maxFrame);
  const frames: Uint8Array[] = [];
  let sent = 0;
  while (sent < value.length) {
    const start = offset + sent;
    const room = budget - varintLen(start);
    const len = Math.min(value.length - sent, room - varintLen(room));
    if (len <= 0) throw new RangeError(`a frame of ${maxFrame} bytes holds no byte of a write at offset ${start}`);
    const last = sent + len === value.length;
    const body = encodeFrame({
      type: "write",
      request,
      handle,
      target: { type: "part", last, ranges: [{ offset: start, bytes: value.subarray(sent, sent + len) }] },
    });
    frames.push(body);
    sent += len;
  }
  return frames;
}
