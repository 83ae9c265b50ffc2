// A real hub for the tests: `memwire serve` with a configuration of its
// own in a temporary directory, listening on TCP (for the `memwire` tool)
// and WebSocket (for this client), on free loopback ports.
//
// The binary is `$MEMWIRE_BIN_DIR/memwire`, else
// `$CARGO_TARGET_DIR/debug/memwire`, else the workspace's
// `target/debug/memwire`: build it with `cargo build -p memwire-cli`.

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The bound of every wait: generous, never a timing claim. */
export const DEADLINE_MS = 20_000;

const WORKSPACE = fileURLToPath(new URL("../../../../", import.meta.url));

export function binary(): string {
  const dir =
    process.env.MEMWIRE_BIN_DIR ?? join(process.env.CARGO_TARGET_DIR ?? join(WORKSPACE, "target"), "debug");
  const path = join(dir, "memwire");
  if (!existsSync(path)) throw new Error(`${path} is missing: build it with cargo build -p memwire-cli`);
  return path;
}

/** A free loopback port (free when asked; the hub binds it soon after). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

const CONFIG = (tcp: number, ws: number) => `
root = "regions"

[listen]
tcp = "127.0.0.1:${tcp}"
ws = "127.0.0.1:${ws}"

[limits]
auth_delay_ms = 0

[publish]
max_rate_hz = 1000

[[tenant]]
name = "demo"

[[tenant.client]]
name = "demo"
secret = "demo-secret"
rights = [{ regions = "*", access = "read-write" }]

[[tenant.client]]
name = "viewer"
secret = "viewer-secret"
rights = [{ regions = "*", access = "read" }]

[[tenant.region]]
name = "sensors"
variables = [
  { name = "tick", kind = "u64" },
  { name = "small", kind = "u8", writable = true },
  { name = "signed", kind = "i8", writable = true },
  { name = "word", kind = "u16", writable = true },
  { name = "short", kind = "i16", writable = true },
  { name = "count", kind = "u32", writable = true },
  { name = "delta", kind = "i32", writable = true },
  { name = "total", kind = "u64", writable = true },
  { name = "offset", kind = "i64", writable = true },
  { name = "setpoint", kind = "f32", writable = true },
  { name = "precise", kind = "f64", writable = true },
  { name = "enabled", kind = "bool", writable = true },
  { name = "tag", kind = "bytes", count = 4, writable = true },
  { name = "samples", kind = "i16", count = 8, writable = true },
  { name = "history", kind = "f32", count = 4, writable = true },
  { name = "big", kind = "u64", count = 2, writable = true },
  { name = "flags", kind = "bool", count = 3, writable = true },
]

# Arrays larger than one of the hub's frames (65,536 bytes): writes in parts.
[[tenant.region]]
name = "bulk"
variables = [
  { name = "wave", kind = "f32", count = 20000, writable = true },
  { name = "frozen", kind = "bytes", count = 70000 },
]
`;

/** `memwire serve` in a directory of its own; `stop` and `start` again keep its ports and root. */
export class Hub {
  readonly dir = mkdtempSync(join(tmpdir(), "memwire-ts-"));
  private process: ChildProcess | undefined;

  private constructor(
    readonly tcp: number,
    readonly ws: number,
  ) {
    writeFileSync(join(this.dir, "hub.toml"), CONFIG(tcp, ws));
  }

  static async start(): Promise<Hub> {
    const hub = new Hub(await freePort(), await freePort());
    await hub.start();
    return hub;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.ws}/`;
  }

  log(): string {
    try {
      return readFileSync(join(this.dir, "serve.log"), "utf8");
    } catch {
      return "";
    }
  }

  /**
   * Gives the region \`sensors\` other variables (\`toml\`, the text of its
   * \`variables\` list) and removes its file, so that the next \`start\`
   * serves it with that schema.
   */
  reshape(toml: string): void {
    const config = readFileSync(join(this.dir, "hub.toml"), "utf8");
    const reshaped = config.replace(/(name = "sensors"\nvariables = )\[[^\]]*\]/, (_, head: string) => head + toml);
    if (reshaped === config) throw new Error("no region sensors in the configuration");
    writeFileSync(join(this.dir, "hub.toml"), reshaped);
    rmSync(join(this.dir, "regions", "demo", "sensors"), { force: true });
  }

  async start(): Promise<void> {
    const log = openSync(join(this.dir, "serve.log"), "a");
    const child = spawn(binary(), ["serve", join(this.dir, "hub.toml")], {
      cwd: this.dir,
      stdio: ["ignore", log, log],
    });
    this.process = child;
    const deadline = Date.now() + DEADLINE_MS;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`memwire serve exited with ${child.exitCode}:\n${this.log()}`);
      if ((await reachable(this.tcp)) && (await reachable(this.ws))) return;
      if (Date.now() > deadline) throw new Error(`memwire serve is not listening:\n${this.log()}`);
      await sleep(50);
    }
  }

  /** Stops the hub (SIGTERM) and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.process;
    this.process = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const killed = setTimeout(() => child.kill("SIGKILL"), DEADLINE_MS);
    await exited;
    clearTimeout(killed);
  }

  async remove(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Runs `memwire ARGS` against this hub as the `demo` client; its standard output. */
  tool(...args: string[]): Promise<string> {
    const connection = ["--hub", `tcp://127.0.0.1:${this.tcp}`, "--tenant", "demo", "--client", "demo", "--secret", "demo-secret"];
    return new Promise((resolve, reject) => {
      execFile(binary(), [...args, ...connection], { timeout: DEADLINE_MS }, (error, stdout, stderr) => {
        if (error) reject(new Error(`memwire ${args.join(" ")}: ${error.message}\n${stderr}`));
        else resolve(stdout);
      });
    });
  }

  /**
   * The region file's data area and generation, read while nothing writes
   * (spec/region-layout.md: `data_offset` at 48, `data_len` at 52, the
   * generation at 136 and 140).
   */
  regionFile(region: string): { generation: bigint; data: Uint8Array } {
    const file = readFileSync(join(this.dir, "regions", "demo", region));
    const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
    const dataOffset = view.getUint32(48, true);
    const dataLen = view.getUint32(52, true);
    const generation = BigInt(view.getUint32(136, true)) | (BigInt(view.getUint32(140, true)) << 32n);
    return { generation, data: new Uint8Array(file.subarray(dataOffset, dataOffset + dataLen)) };
  }
}

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits until `done()` holds, failing after the deadline with `what`. */
export async function eventually(what: string, done: () => boolean): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`not within ${DEADLINE_MS} ms: ${what}`);
    await sleep(20);
  }
}
