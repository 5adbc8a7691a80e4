// The playground: wires the editor, the examples menu, Run, the answer's views, the graph picture,
// share links and the API key together.

import { apiKey, call, setApiKey } from "./api.js";
import { $, clear, h } from "./dom.js";
import * as editor from "./editor.js";
import { toDot } from "./graph.js";
import { showPrinted, showProblems, showTensors } from "./output.js";
import { layout, svgElement } from "./render.js";
import { readFragment, shareUrl } from "./share.js";

const FIT_BOXES = 80;
const state = { format: "json", answer: null, expanded: new Set(), examples: [] };
const view = editor.createEditor($("editor"), () => run());

function setStatus(text, kind = "") {
  $("status").textContent = text;
  $("status").className = kind;
}

function setFormat(format) {
  state.format = format;
  $("format-json").checked = format === "json";
  $("format-source").checked = format === "source";
  editor.setFormat(view, format);
}

function load(format, text) {
  setFormat(format);
  editor.setText(view, text);
  showProblems($("problems"), "", []);
}

// ----- examples -----------------------------------------------------------------------------
async function loadExamples() {
  const { status, body } = await call("/playground/examples");
  if (status !== 200 || !Array.isArray(body)) return;
  state.examples = body;
  const select = $("examples");
  clear(select, h("option", { value: "" }, "Examples\u2026"),
    body.map((ex) => h("option", { value: ex.name }, `${ex.name}${ex.format === "source" ? " (source)" : ""}`)));
}

function loadExample(name) {
  const ex = state.examples.find((e) => e.name === name);
  if (ex) load(ex.format, ex.text);
}

// ----- running ------------------------------------------------------------------------------
function requestBody() {
  const text = view.state.doc.toString();
  if (state.format === "source") return { body: JSON.stringify({ source: text }) };
  try {
    const parsed = JSON.parse(text);
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      return { error: 'the editor holds a JSON request: an object with "program" (a list of statements)' };
    }
  } catch (err) {
    return { error: `the editor's text is not JSON: ${err.message}`, at: jsonErrorPosition(err, text) };
  }
  return { body: text };
}

function jsonErrorPosition(err, text) {
  const m = /position (\d+)/.exec(err.message);
  if (m) return Math.min(Number(m[1]), text.length);
  const lc = /line (\d+) column (\d+)/.exec(err.message);
  return lc ? editor.lineRange(view, Number(lc[1])).from + Number(lc[2]) - 1 : null;
}

async function run() {
  const { body, error, at } = requestBody();
  editor.clearProblems(view);
  if (error) {
    if (at != null) editor.showProblems(view, [{ from: at, to: at, message: error }]);
    showProblems($("problems"), "Not sent", [{ message: error }]);
    setStatus("not sent: fix the text first", "error");
    return;
  }
  setStatus("running\u2026", "busy");
  $("graph").dataset.state = "running";
  $("run").disabled = true;
  let result;
  try {
    result = await call("/v1/run", body);
  } catch (err) {
    setStatus(`the request failed: ${err.message}`, "error");
    return;
  } finally {
    $("run").disabled = false;
  }
  if (result.status === 401) {
    $("key-form").hidden = false;
    $("api-key").focus();
    setStatus(apiKey() ? "that API key was refused: enter another" : "this server needs an API key", "error");
    return;
  }
  if (result.status === 200) showAnswer(result.body);
  else showProblem(result.body, result.status);
}

function showAnswer(answer) {
  state.answer = answer;
  state.expanded = new Set();
  showProblems($("problems"), "", []);
  showPrinted($("printed"), answer.printed);
  showTensors($("tensors"), answer);
  const s = answer.stats || {};
  setStatus(`ran ${s.steps ?? "?"} steps in ${((s.elapsed_s || 0) * 1000).toFixed(1)} ms`, "ok");
  drawGraph();
}

function problemItems(problem) {
  if (state.format === "source" || !problem.pointer) {
    const loc = problem.location;
    if (loc && loc.line) {
      const range = editor.lineRange(view, loc.line);
      const from = Math.min(range.from + Math.max((loc.column || 1) - 1, 0), range.to);
      const endLine = loc.end_line ? editor.lineRange(view, loc.end_line) : range;
      const to = loc.end_column ? Math.min(endLine.from + loc.end_column - 1, endLine.to) : range.to;
      return [{ message: problem.detail, where: `line ${loc.line}`, mark: { from, to: Math.max(to, from) } }];
    }
    return [{ message: problem.detail || problem.title, where: problem.pointer || "" }];
  }
  const errors = Array.isArray(problem.errors) && problem.errors.length
    ? problem.errors : [{ pointer: problem.pointer, detail: problem.detail }];
  return errors.map((e) => {
    const range = editor.pointerRange(view, e.pointer || "");
    const line = range ? view.state.doc.lineAt(range.from).number : null;
    return { message: e.detail, where: `${e.pointer}${line ? ` (line ${line})` : ""}`,
      mark: range ? { from: range.from, to: range.to } : null };
  });
}

function showProblem(problem, status) {
  state.answer = null;
  const items = problemItems(problem);
  const marks = items.filter((i) => i.mark).map((i) => ({ ...i.mark, message: i.message }));
  editor.showProblems(view, marks);
  for (const item of items) {
    if (item.mark) item.onclick = () => view.dispatch({ selection: { anchor: item.mark.from, head: item.mark.to },
      scrollIntoView: true });
  }
  showProblems($("problems"), `${problem.title || "Problem"} (${status})`, items);
  showPrinted($("printed"), problem.printed);
  clear($("tensors"));
  clear($("graph"));
  $("graph-info").textContent = "";
  setStatus(`${problem.title || "problem"}: ${problem.detail || ""}`, "error");
}

// ----- the graph ----------------------------------------------------------------------------
async function drawGraph() {
  const answer = state.answer;
  const box = $("graph");
  if (!answer) return;
  const { dot, drawn, total, groups, simplified } = toDot(answer, {
    collapse: $("collapse").checked, expanded: state.expanded, showNone: $("show-none").checked });
  if (!total) {
    clear(box, h("p", { class: "muted" }, "No grad_fn graph: no returned tensor has a grad_fn."));
    $("graph-info").textContent = "";
    box.dataset.state = "empty";
    return;
  }
  box.dataset.state = "pending";
  $("graph-info").textContent = `${total} nodes; laying out ${drawn} boxes\u2026`;
  const started = performance.now();
  const result = await layout(dot);
  if (result.stale) return;
  const ms = Math.round(performance.now() - started);
  if (result.error) {
    clear(box, h("p", { class: "error" }, `The graph could not be laid out: ${result.error}`));
    box.dataset.state = "error";
    return;
  }
  const inserting = performance.now();
  const svg = svgElement(result.svg);
  // a small picture fits the panel's width; a large one keeps its size and scrolls
  if (drawn <= FIT_BOXES) svg.classList.add("fit");
  clear(box, svg);
  box.dataset.state = "rendered";
  box.dataset.ms = String(ms);
  box.dataset.insertMs = String(Math.round(performance.now() - inserting));
  $("graph-info").textContent = `${total} nodes drawn as ${drawn} boxes`
    + `${groups ? ` (${groups} collapsed runs: click one to expand it)` : ""}; laid out in ${ms} ms`
    + `${simplified ? "; a large picture: None entries not drawn, shared leaves named in labels" : ""}`
    + `${result.onPage ? " (too deep for the layout worker: laid out on the page)" : ""}`;
}

$("graph").addEventListener("click", (event) => {
  const group = event.target.closest && event.target.closest("g.group");
  if (!group) return;
  state.expanded.add(group.id.replace(/^group_/, ""));
  drawGraph();
});

// ----- share links --------------------------------------------------------------------------
function share() {
  const url = shareUrl(state.format, view.state.doc.toString(), true);
  $("share-link").value = url;
  $("share-link").hidden = false;
  $("share-link").select();
  history.replaceState(null, "", url);
}

function openFragment() {
  const found = readFragment();
  if (!found) return false;
  load(found.format, found.text);
  if (found.run) run();
  return true;
}

// ----- start --------------------------------------------------------------------------------
$("run").addEventListener("click", () => run());
$("share").addEventListener("click", share);
$("examples").addEventListener("change", (e) => loadExample(e.target.value));
$("format-json").addEventListener("change", () => setFormat("json"));
$("format-source").addEventListener("change", () => setFormat("source"));
$("show-none").addEventListener("change", drawGraph);
$("collapse").addEventListener("change", () => {
  state.expanded = new Set();
  drawGraph();
});
$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  setApiKey($("api-key").value.trim());
  $("key-form").hidden = true;
  run();
});
window.addEventListener("hashchange", openFragment);

await loadExamples();
if (!openFragment()) {
  const first = state.examples.find((e) => e.name === "seed_tutorial.json") || state.examples[0];
  if (first) load(first.format, first.text);
}
document.body.dataset.ready = "true";
