// What a run returned: printed text, a table of returned tensors and values, problems.

import { clear, h } from "./dom.js";

const DTYPES = { FP32: "torch.float32", FP64: "torch.float64", INT64: "torch.int64", BOOL: "torch.bool" };
const MAX_VALUES = 24;

function valuesText(tensor) {
  if (!tensor) return "";
  if (tensor.b64 !== undefined) return "(base64)";
  const data = tensor.data || [];
  const shown = data.slice(0, MAX_VALUES).map((v) => String(v)).join(", ");
  return data.length > MAX_VALUES ? `${shown}, \u2026 (${data.length} values)` : shown;
}

const shapeText = (shape) => `[${shape.join(", ")}]`;

export function showPrinted(el, printed) {
  el.textContent = (printed || []).join("\n");
  el.classList.toggle("empty", !(printed && printed.length));
}

export function showTensors(el, answer) {
  const rows = [];
  for (const [name, t] of Object.entries(answer.tensors || {})) {
    const node = t.grad_fn && answer.graph && answer.graph[t.grad_fn];
    rows.push(h("tr", { "data-name": name },
      h("td", { class: "name" }, name),
      h("td", {}, shapeText(t.shape)),
      h("td", {}, DTYPES[t.datatype] || t.datatype),
      h("td", { class: "values" }, valuesText(t)),
      h("td", {}, node ? node.name : t.requires_grad ? "(leaf)" : ""),
      h("td", { class: "values" }, t.grad ? valuesText(t.grad) : "None")));
  }
  for (const [name, v] of Object.entries(answer.values || {})) {
    const text = v && typeof v === "object" && "node" in v
      ? `<${(answer.graph[v.node] || {}).name} object>` : JSON.stringify(v);
    rows.push(h("tr", { "data-name": name }, h("td", { class: "name" }, name),
      h("td", { colspan: 5, class: "values" }, text)));
  }
  clear(el, rows.length
    ? h("table", {}, h("thead", {}, h("tr", {}, ["name", "shape", "dtype", "values", "grad_fn", "grad"]
      .map((c) => h("th", {}, c)))), h("tbody", {}, rows))
    : h("p", { class: "muted" }, "No tensors returned."));
}

// items: [{message, where, onclick}]
export function showProblems(el, title, items) {
  clear(el, title && h("div", { class: "problem-title" }, title),
    items.map((item) => h("div", { class: "problem", onclick: item.onclick },
      h("span", { class: "problem-message" }, item.message),
      item.where ? h("span", { class: "problem-where" }, ` \u2014 ${item.where}`) : null)));
  el.hidden = !title && !items.length;
}
