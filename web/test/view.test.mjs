// The web view in a real browser: Debian's chromium, headless, driven by
// playwright-core. The test runs `memwire demo` (the binary cargo built:
// $MEMWIRE_BIN, else $CARGO_TARGET_DIR/debug/memwire, else
// ../target/debug/memwire) on free ports, opens the URL it prints, and
// checks that the values its simulated sensor writes and a value another
// process writes appear, that a plot draws its line, that a write the
// read-only client tries is refused, and that a write after logging in as
// the read-write client reaches the region. The screenshot goes to
// $MEMWIRE_WEB_OUTPUT (else test-output/), view.png.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "..", "..");
const bin =
  process.env.MEMWIRE_BIN ??
  join(process.env.CARGO_TARGET_DIR ? resolve(process.env.CARGO_TARGET_DIR) : join(repo, "target"), "debug", "memwire");
const output = resolve(process.env.MEMWIRE_WEB_OUTPUT ?? join(here, "..", "test-output"));
const CHROMIUM = "/usr/bin/chromium";
/** Every wait's bound: generous, for a loaded two-core machine. */
const WAIT = 30_000;

/** Starts `memwire demo` on free ports; resolves with the printed addresses. */
function demo(root) {
  const child = spawn(
    bin,
    ["demo", "--duration", "300", "--listen", "127.0.0.1:0", "--web", "127.0.0.1:0", "--ws", "127.0.0.1:0"],
    { env: { ...process.env, MEMWIRE_ROOT: root }, stdio: ["ignore", "pipe", "inherit"] },
  );
  const lines = createInterface({ input: child.stdout });
  return new Promise((done, fail) => {
    const found = {};
    const timer = setTimeout(() => fail(new Error("memwire demo printed no web view URL")), WAIT);
    child.on("exit", (code) => fail(new Error(`memwire demo exited with ${code}`)));
    // Every line is read, so that the demo's watch output never fills the pipe.
    lines.on("line", (line) => {
      const hub = /^memwire demo: hub (tcp:\/\/\S+),/.exec(line);
      if (hub) found.hub = hub[1];
      const web = /^Web view: (\S+)$/.exec(line);
      if (web) found.web = web[1];
      if (found.hub && found.web && !found.done) {
        found.done = true;
        clearTimeout(timer);
        done({ child, hub: found.hub, web: found.web });
      }
    });
  });
}

/** `memwire ARGS...` against the demo hub, its standard output. */
function memwire(hub, ...args) {
  return execFileSync(bin, [args[0], "--hub", hub, ...args.slice(1)], { encoding: "utf8" });
}

/**
 * The pixels in the first series' colour (#1f77b4; uPlot anti-aliases its
 * edges) of each canvas of the variable's plots: one for a scalar, two for
 * an array (over time, and now).
 */
function linePixels(page, variable) {
  return page.evaluate((name) => {
    return Array.from(document.querySelectorAll(`[data-var="${name}"] canvas`), (canvas) => {
      const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
      let count = 0;
      for (let i = 0; i < data.length; i += 4) {
        const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
        if (a > 128 && Math.abs(r - 31) < 30 && Math.abs(g - 119) < 30 && Math.abs(b - 180) < 30) count++;
      }
      return count;
    });
  }, variable);
}

test("the web view shows the demo's region live, plots it and writes through the client's rights", async () => {
  const scratch = mkdtempSync(join(tmpdir(), "memwire-web-"));
  mkdirSync(output, { recursive: true });
  const { child, hub, web } = await demo(join(scratch, "regions"));
  let context;
  try {
    assert.match(web, /^http:\/\/127\.0\.0\.1:\d+\/#tenant=demo&client=viewer&secret=/);
    context = await chromium.launchPersistentContext(join(scratch, "profile"), {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
      viewport: { width: 1280, height: 1400 },
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const problems = [];
    page.on("pageerror", (e) => problems.push(String(e)));
    page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
    await page.goto(web);

    // Logged in from the fragment, as the read-only viewer.
    const region = page.locator('section[data-region="demo/sensors"]');
    await region.waitFor({ timeout: WAIT });
    assert.equal(await page.locator("#who").textContent(), "viewer @ demo");

    // The simulated sensor commits to the region's file in the demo's
    // process; its counter climbs in the page.
    const counter = region.locator('tr[data-var="counter"] .value');
    await page.waitForFunction(() => Number(document.querySelector('tr[data-var="counter"] .value')?.textContent) > 0, null, { timeout: WAIT });
    const first = Number(await counter.textContent());
    await page.waitForFunction((n) => Number(document.querySelector('tr[data-var="counter"] .value')?.textContent) > n, first, { timeout: WAIT });

    // A value another process writes shows.
    assert.match(memwire(hub, "set", "demo/sensors/setpoint", "21.5"), /^demo\/sensors\/setpoint = 21\.5 /);
    await page.waitForFunction(() => document.querySelector('tr[data-var="setpoint"] .value')?.textContent === "21.5", null, { timeout: WAIT });

    // The plots draw lines: the temperature over time, and the samples
    // array over time (its mean) and now.
    for (const [variable, plots] of [["temperature", 1], ["samples", 2]]) {
      const deadline = Date.now() + WAIT;
      const drawn = async () => {
        const pixels = await linePixels(page, variable);
        return pixels.length === plots && pixels.every((n) => n >= 50) ? null : pixels;
      };
      let short;
      while ((short = await drawn()) && Date.now() < deadline) await page.waitForTimeout(200);
      assert.equal(short, null, `the ${variable} plots drew [${short}] pixels of their lines`);
    }

    // The viewer may not write: the hub refuses, the page says so, and the region keeps its value.
    const setpoint = region.locator('tr[data-var="setpoint"]');
    await setpoint.locator("input").fill("30");
    await setpoint.locator("button").click();
    await page.waitForFunction(() => /^refused: /.test(document.querySelector('tr[data-var="setpoint"] .result')?.textContent ?? ""), null, { timeout: WAIT });
    assert.equal(memwire(hub, "get", "demo/sensors/setpoint"), "setpoint = 21.5\n");

    // Log out, log in as the read-write client through the form, write from the page.
    await page.locator("#logout").click();
    await page.locator("#login").waitFor({ timeout: WAIT });
    await page.fill('#login input[name="tenant"]', "demo");
    await page.fill('#login input[name="client"]', "demo");
    await page.fill('#login input[name="secret"]', "memwire-demo-secret");
    await page.click('#login button[type="submit"]');
    await page.waitForFunction(() => document.querySelector("#who")?.textContent === "demo @ demo", null, { timeout: WAIT });
    const editable = page.locator('section[data-region="demo/sensors"] tr[data-var="setpoint"]');
    await editable.locator("input").fill("23.25");
    await editable.locator("button").click();
    await page.waitForFunction(() => /^written, generation \d+$/.test(document.querySelector('tr[data-var="setpoint"] .result')?.textContent ?? ""), null, { timeout: WAIT });
    assert.equal(memwire(hub, "get", "demo/sensors/setpoint"), "setpoint = 23.25\n");
    await page.waitForFunction(() => document.querySelector('tr[data-var="setpoint"] .value')?.textContent === "23.25", null, { timeout: WAIT });

    // A little more history in the plots, then the picture for a person to look at.
    await page.waitForTimeout(2000);
    await page.screenshot({ path: join(output, "view.png"), fullPage: true });
    assert.deepEqual(problems, []);
  } finally {
    await context?.close();
    child.kill("SIGINT");
    await new Promise((done) => (child.exitCode !== null ? done() : child.on("exit", done)));
    rmSync(scratch, { recursive: true, force: true });
  }
});
