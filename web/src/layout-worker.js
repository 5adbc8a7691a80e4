// Graphviz (WebAssembly, @viz-js/viz) in a worker: a large layout never freezes the page, and a
// layout that is no longer wanted is stopped by ending the worker.
import { instance } from "@viz-js/viz";

const viz = instance();

self.onmessage = async (event) => {
  const { id, dot } = event.data;
  try {
    const result = (await viz).render(dot, { format: "svg", engine: "dot" });
    if (result.status === "success") self.postMessage({ id, svg: result.output });
    else self.postMessage({ id, error: result.errors.map((e) => e.message).join("; ") });
  } catch (err) {
    // a layout too deep for the WebAssembly stack ends here ("Maximum call stack size exceeded")
    self.postMessage({ id, error: String(err && err.message ? err.message : err) });
  }
};
