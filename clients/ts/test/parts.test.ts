// A write as its frames (src/parts.ts): one by-name Write when it fits the
// hub's frames, else parts that decode back to the value, each within the
// frame bound and filled to it but the last, only the last marked so.

import assert from "node:assert/strict";
import { test } from "node:test";

import { decodeFrame, encodeFrame } from "../src/index.js";
import { writeFrames } from "../src/parts.js";

test("a write that fits one frame is the one by-name Write", () => {
  const value = new Uint8Array([0, 0, 0xc0, 0x3f]);
  const frames = writeFrames(5, 1, "setpoint", 16, value, 128);
  assert.deepEqual(frames, [encodeFrame({ type: "write", request: 5, handle: 1, target: { type: "variable", name: "setpoint", value } })]);
});

for (const [maxFrame, length, offset] of [
  [128, 1000, 16],
  [128, 127, 0],
  [4096, 20000, 300_000],
  [65_536, 80_000, 8],
] as const) {
  test(`${length} bytes at ${offset} in frames of ${maxFrame}: parts that make the value`, () => {
    const value = Uint8Array.from({ length }, (_, i) => (i * 7 + 3) & 0xff);
    const frames = writeFrames(300, 2, "wave", offset, value, maxFrame);
    assert.ok(frames.length >= 2);
    const got = new Uint8Array(length);
    let end = offset;
    frames.forEach((body, i) => {
      assert.ok(body.length <= maxFrame, `part ${i} is ${body.length} bytes`);
      const last = i === frames.length - 1;
      if (!last) assert.ok(body.length >= maxFrame - 2, `part ${i} is filled: ${body.length} bytes`);
      const frame = decodeFrame(body);
      assert.ok(frame.type === "write" && frame.request === 300 && frame.handle === 2);
      assert.ok(frame.target.type === "part");
      assert.equal(frame.target.last, last);
      assert.equal(frame.target.ranges.length, 1);
      const range = frame.target.ranges[0]!;
      assert.equal(range.offset, end, "each part starts where the one before ended");
      got.set(range.bytes, range.offset - offset);
      end = range.offset + range.bytes.length;
    });
    assert.equal(end, offset + length);
    assert.deepEqual(got, value);
  });
}
