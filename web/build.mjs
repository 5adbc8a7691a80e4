// Bundles the playground into ../service/static/playground (see scripts/build_web.sh).
import { build } from "esbuild";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";

const out = new URL("../service/static/playground/", import.meta.url).pathname;
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const common = { bundle: true, format: "esm", minify: true, target: "es2022", legalComments: "linked",
  logLevel: "info" };
await build({ ...common, entryPoints: { playground: "src/main.js" }, outdir: out });
await build({ ...common, entryPoints: { "layout-worker": "src/layout-worker.js" }, outdir: out });
copyFileSync("src/index.html", `${out}index.html`);
copyFileSync("src/playground.css", `${out}playground.css`);
