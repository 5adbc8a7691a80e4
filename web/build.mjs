// Bundles the playground into ../service/static/playground (see scripts/build_web.sh).
import { build } from "esbuild";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";

const out = new URL("../service/static/playground/", import.meta.url).pathname;
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const common = { bundle: true, format: "esm", minify: true, target: "es2022", legalComments: "linked",
  logLevel: "info" };
// one build with shared chunks: Graphviz's module is loaded by the worker and, only when a layout
// needs the page's larger stack, by the page (src/render.js)
await build({ ...common, splitting: true, chunkNames: "chunk-[hash]",
  entryPoints: { playground: "src/main.js", "layout-worker": "src/layout-worker.js" }, outdir: out });
copyFileSync("src/index.html", `${out}index.html`);
copyFileSync("src/playground.css", `${out}playground.css`);
