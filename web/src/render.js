// Lays the DOT text out in the worker and puts the SVG into the page. The SVG comes from
// Graphviz, which writes every label as escaped XML text; it is parsed as SVG (never as HTML)
// and anything that could run (script elements, on* attributes, links) is dropped all the same.

let worker = null;
let pending = null;
let nextId = 0;

function ensureWorker() {
  if (!worker) {
    worker = new Worker("/playground/assets/layout-worker.js", { type: "module" });
    worker.onmessage = (event) => {
      if (pending && event.data.id === pending.id) {
        const { resolve } = pending;
        pending = null;
        resolve(event.data);
      }
    };
    worker.onerror = (event) => {
      if (pending) {
        const { resolve } = pending;
        pending = null;
        resolve({ error: event.message || "the layout worker failed" });
      }
      worker = null;
    };
  }
  return worker;
}

// {svg} or {error}; a newer call ends an older layout still running.
export function layout(dot) {
  if (pending) {
    worker.terminate();
    worker = null;
    pending.resolve({ error: "replaced by a newer layout", stale: true });
    pending = null;
  }
  const id = ++nextId;
  return new Promise((resolve) => {
    pending = { id, resolve };
    ensureWorker().postMessage({ id, dot });
  });
}

export function svgElement(svgText) {
  const doc = new DOMParser().parseFromString(svgText, "image/svg+xml");
  const svg = doc.documentElement;
  if (svg.nodeName !== "svg") throw new Error("the layout did not give an SVG picture");
  for (const el of svg.querySelectorAll("script, foreignObject")) el.remove();
  for (const el of svg.querySelectorAll("*")) {
    for (const attr of [...el.attributes]) {
      if (/^on/i.test(attr.name) || /href$/i.test(attr.name)) el.removeAttribute(attr.name);
    }
  }
  return document.importNode(svg, true);
}
