// Bundles the playground into ../service/static/playground (see scripts/build_web.sh).
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";

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

// What the build was made from: tests/test_web_build.py recomputes this digest from web/ and fails
// when the sources changed without a rebuild.
function sources() {
  const src = readdirSync("src", { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile()).map((e) => `${e.parentPath}/${e.name}`.replace(/^\.\//, ""));
  return [...src, "build.mjs", "package.json", "package-lock.json"].sort();
}
const digest = createHash("sha256");
for (const path of sources()) {
  digest.update(`${path}\0`);
  digest.update(readFileSync(path));
  digest.update("\0");
}
writeFileSync(`${out}build-sources.json`,
  `${JSON.stringify({ sha256: digest.digest("hex"), files: sources() }, null, 1)}\n`);
