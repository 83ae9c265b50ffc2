// Builds the page into std-adapter/web/, the files the hub embeds
// (std-adapter/src/hub/web.rs): index.html as written, app.js (the page,
// the TypeScript client of clients/ts and uPlot in one script) and app.css
// (uPlot's style sheet and the page's). The output depends only on the
// sources and the locked versions, so CI rebuilds it and checks that the
// committed files are what this script writes.
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "std-adapter", "web");
mkdirSync(out, { recursive: true });

const common = {
  bundle: true,
  minify: true,
  legalComments: "eof",
  charset: "utf8",
  logLevel: "warning",
  absWorkingDir: here,
};

await esbuild.build({
  ...common,
  entryPoints: ["src/main.ts"],
  outfile: join(out, "app.js"),
  format: "iife",
  target: ["es2022"],
  // The client is built from its sources, so the page needs no build of
  // clients/ts first.
  alias: { memwire: join(here, "..", "clients", "ts", "src", "index.ts") },
});
await esbuild.build({
  ...common,
  entryPoints: ["src/app.css"],
  outfile: join(out, "app.css"),
});
copyFileSync(join(here, "src", "index.html"), join(out, "index.html"));
