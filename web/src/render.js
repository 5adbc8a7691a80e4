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

// {svg} or {error}; a newer call ends an older layout still running. A worker's stack is smaller
// than the page's: a layout that overflows it (a chain of about 10,000 nodes) is done again on the
// page itself, which holds the page for that long (seconds) but draws the picture.
export async function layout(dot) {
  const result = await layoutInWorker(dot);
  if (!result.error || !/call stack/i.test(result.error)) return result;
  const { renderSvg } = await import("./viz-layout.js");
  return { ...(await renderSvg(dot)), onPage: true };
}

function layoutInWorker(dot) {
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
