// End to end against a real hub (`memwire serve`, see hub.ts): the mirror
// holds the hub's bytes, reads give every kind, writes are applied and
// answered (those larger than a frame in parts), refused writes get the
// hub's code, a client whose hub restarted resumes from where its mirror
// stood, and a mirror whose region came back with another schema ends.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import WebSocket from "ws";

import { Client, type ClientOptions, HubError, type Mirror, type State, WriteError } from "../src/index.js";
import { eventually, Hub } from "./hub.js";

let hub: Hub;

before(async () => {
  hub = await Hub.start();
});

after(async () => {
  await hub?.remove();
});

function options(client = "demo", secret = `${client}-secret`): ClientOptions {
  return {
    client,
    tenant: "demo",
    secret,
    WebSocket: WebSocket as unknown as ClientOptions["WebSocket"],
    reconnectMinMs: 50,
    reconnectMaxMs: 400,
  };
}

/** Sets `variable` with the `memwire` tool (through TCP); the generation it printed. */
async function set(variable: string, value: string): Promise<bigint> {
  const out = await hub.tool("set", `demo/sensors/${variable}`, value);
  const m = /\(generation (\d+)\)/.exec(out);
  assert.ok(m, `memwire set printed ${out}`);
  return BigInt(m[1]!);
}

/** The mirror and the region file hold the same bytes at the same generation. */
async function sameAsFile(mirror: Mirror, generation: bigint): Promise<void> {
  await eventually(`the mirror reaches generation ${generation}`, () => mirror.generation >= generation);
  const file = hub.regionFile("sensors");
  assert.equal(mirror.generation, file.generation, "the mirror is at the file's generation");
  assert.deepEqual(mirror.snapshot(), file.data, "the mirror's bytes are the file's");
}

test("a described mirror holds the hub's bytes and reads every kind", async () => {
  const client = await Client.connect(hub.url, options());
  try {
    assert.deepEqual(
      client.regions().map((r) => r.name),
      ["sensors", "bulk"],
    );
    const mirror = await client.subscribe("demo/sensors");
    const kinds = Object.fromEntries(mirror.schema.map((v) => [v.name, `${v.kind}×${v.count}`]));
    assert.equal(kinds.total, "u64×1");
    assert.equal(kinds.samples, "i16×8");
    assert.equal(kinds.tag, "bytes×4");
    assert.equal(mirror.schema.find((v) => v.name === "tick")?.writable, false);

    const changes: string[][] = [];
    const stop = mirror.onChange((names) => changes.push(names));
    await set("small", "200");
    await set("signed", "-5");
    await set("word", "65000");
    await set("short", "-300");
    await set("count", "4000000000");
    await set("delta", "-70000");
    await set("total", "18446744073709551615");
    await set("offset", "-9007199254740993");
    await set("setpoint", "21.5");
    await set("precise", "0.1");
    await set("enabled", "true");
    await set("tag", "0xdeadbeef");
    await set("samples", "[1, -2, 3, -4, 5, -6, 7, -32768]");
    await set("history", "[0.5, 1.5, -2.25, 1e10]");
    await set("big", "[1, 12345678901234567890]");
    const last = await set("flags", "[true, false, true]");
    await sameAsFile(mirror, last);
    stop();

    assert.equal(mirror.read("small"), 200);
    assert.equal(mirror.read("signed"), -5);
    assert.equal(mirror.read("word"), 65000);
    assert.equal(mirror.read("short"), -300);
    assert.equal(mirror.read("count"), 4000000000);
    assert.equal(mirror.read("delta"), -70000);
    assert.equal(mirror.read("total"), 18446744073709551615n);
    assert.equal(mirror.read("offset"), -9007199254740993n);
    assert.equal(mirror.read("setpoint"), 21.5);
    assert.equal(mirror.read("precise"), 0.1);
    assert.equal(mirror.read("enabled"), true);
    assert.deepEqual(mirror.read("tag"), new Uint8Array([0xde, 0xad, 0xbe, 0xef]));
    assert.deepEqual(mirror.read("samples"), new Int16Array([1, -2, 3, -4, 5, -6, 7, -32768]));
    assert.deepEqual(mirror.read("history"), new Float32Array([0.5, 1.5, -2.25, 1e10]));
    assert.deepEqual(mirror.read("big"), new BigUint64Array([1n, 12345678901234567890n]));
    assert.deepEqual(mirror.read("flags"), new Uint8Array([1, 0, 1]));

    // Change events name what each update changed.
    assert.ok(changes.some((names) => names.length === 1 && names[0] === "samples"), JSON.stringify(changes));
    assert.ok(changes.every((names) => names.length > 0));

    // The tool's JSON view of the same generation agrees.
    const dump = JSON.parse(await hub.tool("dump", "demo/sensors")) as { generation: number; variables: Record<string, unknown> };
    assert.equal(BigInt(dump.generation), mirror.generation);
    assert.equal(dump.variables.delta, mirror.read("delta"));
    assert.equal(dump.variables.setpoint, mirror.read("setpoint"));
    assert.deepEqual(dump.variables.samples, [...(mirror.read("samples") as Int16Array)]);
    assert.equal(dump.variables.tag, "0xdeadbeef");
    assert.equal(client.stats().updates > 0, true);
  } finally {
    await client.close();
  }
});

test("with the smallest frames, updates come in many parts and still make one copy", async () => {
  const client = await Client.connect(hub.url, { ...options(), maxFrame: 128 });
  try {
    const mirror = await client.subscribe("demo/sensors");
    await set("samples", "[100, 200, 300, 400, 500, 600, 700, 800]");
    await set("history", "[1, 2, 3, 4]");
    const generation = await mirror.set("big", [5n, 6n]);
    await sameAsFile(mirror, generation);
    assert.deepEqual(mirror.read("big"), new BigUint64Array([5n, 6n]));
    assert.ok(
      client.stats().framesIn > client.stats().updates + 4,
      `the first copy came in parts: ${JSON.stringify(client.stats(), (_, v) => (typeof v === "bigint" ? String(v) : v))}`,
    );
  } finally {
    await client.close();
  }
});

test("writes are applied and answered; refused writes get the hub's code", async () => {
  const client = await Client.connect(hub.url, options());
  const viewer = await Client.connect(hub.url, options("viewer"));
  try {
    const mirror = await client.subscribe("sensors");
    assert.equal(mirror.path, "demo/sensors");
    const seen: string[][] = [];
    mirror.onChange((names) => seen.push(names));
    const generation = await mirror.set("setpoint", 19.25);
    assert.equal(typeof generation, "bigint");
    await eventually("the write's update reaches the mirror", () => mirror.generation >= generation);
    assert.equal(mirror.read("setpoint"), 19.25);
    assert.ok(seen.some((names) => names.includes("setpoint")));
    assert.match(await hub.tool("get", "demo/sensors/setpoint"), /setpoint = 19\.25/);

    const arrays = await mirror.set("samples", new Int16Array([9, 8, 7, 6, 5, 4, 3, 2]));
    const big = await mirror.set("total", 2n ** 63n);
    assert.ok(big > arrays);
    await sameAsFile(mirror, big);
    assert.deepEqual(mirror.read("samples"), new Int16Array([9, 8, 7, 6, 5, 4, 3, 2]));

    // Many writes at once: more than the 8 the hub takes unanswered.
    const many = await Promise.all(Array.from({ length: 20 }, (_, i) => mirror.set("count", i)));
    for (let i = 1; i < many.length; i++) assert.ok(many[i]! > many[i - 1]!, "answered in order");
    await sameAsFile(mirror, many[many.length - 1]!);
    assert.equal(mirror.read("count"), 19);

    await assert.rejects(mirror.set("tick", 5n), (e: unknown) => e instanceof WriteError && e.code === 13 && e.codeName === "ReadOnly");
    const read = await viewer.subscribe("demo/sensors");
    await assert.rejects(read.set("setpoint", 1), (e: unknown) => e instanceof WriteError && e.codeName === "AccessDenied");
    assert.throws(() => mirror.read("nope"), RangeError);
    await assert.rejects(mirror.set("samples", [1, 2]), RangeError);
    assert.equal(client.stats().writesRefused, 1);
    assert.equal(client.currentState(), "connected", "a refused write ends nothing");
  } finally {
    await viewer.close();
    await client.close();
  }
});

test("a write larger than a frame goes in parts and is applied whole; a refused one changes nothing", async () => {
  const client = await Client.connect(hub.url, options());
  const viewer = await Client.connect(hub.url, options("viewer"));
  try {
    const mirror = await client.subscribe("bulk");
    const maxFrame = client.hubLimits()!.maxFrame;
    const wave = Float32Array.from({ length: 20000 }, (_, i) => i * 0.25 - 7);
    assert.ok(wave.byteLength > maxFrame, "the value is larger than one of the hub's frames");
    const framesOut = client.stats().framesOut;
    const generation = await mirror.set("wave", wave);
    assert.ok(client.stats().framesOut - framesOut >= 2, "the write went in parts");
    await eventually(`the mirror reaches generation ${generation}`, () => mirror.generation >= generation);
    assert.deepEqual(mirror.read("wave"), wave);
    const file = hub.regionFile("bulk");
    assert.equal(file.generation, generation, "one commit: the write's generation is the file's");
    assert.deepEqual(mirror.snapshot(), file.data, "the file holds the whole write");

    const frozen = new Uint8Array(70000).fill(0xa5);
    await assert.rejects(mirror.set("frozen", frozen), (e: unknown) => e instanceof WriteError && e.codeName === "ReadOnly");
    const read = await viewer.subscribe("demo/bulk");
    await assert.rejects(read.set("wave", new Float32Array(20000)), (e: unknown) => e instanceof WriteError && e.codeName === "AccessDenied");
    assert.equal(hub.regionFile("bulk").generation, generation, "the refused writes changed nothing");
    assert.deepEqual(hub.regionFile("bulk").data, file.data);

    // The connection goes on: a second write in parts, then a small one.
    wave.reverse();
    const again = await mirror.set("wave", wave);
    assert.ok(again > generation);
    await eventually("the second write reaches the mirror", () => mirror.generation >= again);
    assert.deepEqual(mirror.read("wave"), wave);
    assert.equal(client.stats().connections, 1, "no write cost the connection");
    assert.equal(client.stats().writesRefused, 1);
  } finally {
    await viewer.close();
    await client.close();
  }
});

test("refusals: a wrong secret, a region the client may not read", async () => {
  await assert.rejects(
    Client.connect(hub.url, options("demo", "wrong")),
    (e: unknown) => e instanceof HubError && e.codeName === "AuthFailed",
  );
  const client = await Client.connect(hub.url, options());
  try {
    await assert.rejects(client.subscribe("demo/nothing"), (e: unknown) => e instanceof HubError && e.codeName === "UnknownRegion");
    await assert.rejects(client.subscribe("other/sensors"), (e: unknown) => e instanceof HubError && e.codeName === "AccessDenied");
    await assert.rejects(client.subscribe("demo/sensors/extra"), RangeError);
    await assert.rejects(client.subscribe("bad name"), RangeError);
    const mirror = await client.subscribe("sensors");
    assert.equal(client.stats().connections, 1, "no refusal cost the connection");
    assert.equal(mirror.ended, undefined);
  } finally {
    await client.close();
  }
});

test("after a hub restart the client reconnects and its mirror resumes", async () => {
  const client = await Client.connect(hub.url, options());
  const states: State[] = [];
  client.onState((s) => states.push(s));
  try {
    const mirror = await client.subscribe("demo/sensors");
    const before = await set("small", "7");
    await sameAsFile(mirror, before);
    const instance = mirror.instance;

    await hub.stop();
    await eventually("the client notices", () => states.includes("reconnecting"));
    await hub.start();
    await eventually("the client reconnects", () => states[states.length - 1] === "connected");
    const generation = await set("small", "8");
    await sameAsFile(mirror, generation);
    assert.equal(mirror.read("small"), 8);
    assert.equal(mirror.instance, instance, "the same region file: the same instance");
    assert.equal(client.stats().connections, 2);
    assert.equal(client.stats().resyncs, 0, "resumed from its generation, no full copy asked for");
    assert.equal(client.stats().fullUpdates, 1, "after the reconnection, deltas only");
    const written = await mirror.set("small", 9);
    await sameAsFile(mirror, written);
  } finally {
    await client.close();
  }
  assert.equal(states[states.length - 1], "closed");
});

test("a region back with another schema ends its mirror, as in the Rust client", async () => {
  const own = await Hub.start();
  const client = await Client.connect(own.url, options());
  try {
    const mirror = await client.subscribe("demo/sensors");
    await mirror.set("small", 3);
    // The write's answer can come before the update that carries it.
    await eventually("the mirror holds the write", () => mirror.read("small") === 3);
    await own.stop();
    own.reshape(`[{ name = "tick", kind = "u64" }, { name = "level", kind = "f64", writable = true }]`);
    await own.start();
    await eventually("the mirror ends", () => mirror.ended !== undefined);
    assert.ok(mirror.ended instanceof HubError);
    assert.equal(mirror.ended.codeName, "SchemaMismatch");
    assert.equal(mirror.read("small"), 3, "the mirror keeps its last bytes");
    await assert.rejects(mirror.set("small", 4), (e: unknown) => e === mirror.ended);
    assert.equal(client.currentState(), "connected", "the connection goes on");
    const again = await client.subscribe("demo/sensors");
    assert.deepEqual(
      again.schema.map((v) => v.name),
      ["tick", "level"],
    );
    await again.set("level", 2.5);
  } finally {
    await client.close();
    await own.remove();
  }
});
