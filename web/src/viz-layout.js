// Graphviz's dot layout to SVG text (@viz-js/viz, WebAssembly), for the worker and for the page.
import { instance } from "@viz-js/viz";

let viz = null;

// {svg} or {error}
export async function renderSvg(dot) {
  viz = viz || instance();
  try {
    const result = (await viz).render(dot, { format: "svg", engine: "dot" });
    if (result.status === "success") return { svg: result.output };
    return { error: result.errors.map((e) => e.message).join("; ") };
  } catch (err) {
    // a layout too deep for the WebAssembly stack ends here ("Maximum call stack size exceeded")
    return { error: String(err && err.message ? err.message : err) };
  }
}
