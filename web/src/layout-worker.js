// Graphviz in a worker: a large layout never freezes the page, and a layout that is no longer
// wanted is stopped by ending the worker.
import { renderSvg } from "./viz-layout.js";

self.onmessage = async (event) => {
  const { id, dot } = event.data;
  self.postMessage({ id, ...(await renderSvg(dot)) });
};
