// The answer's grad_fn graph as Graphviz DOT for the picture.
//
// Labels: the grad_fn name; AccumulateGrad with the leaf's name and shape; a node that produced a
// returned tensor with that tensor's name. Edges go from a node to the nodes its inputs came from
// (torch's next_functions), labelled with the output index where the target has several outputs.
// None entries become faint "None" marks, or nothing (the toggle).
//
// Large graphs: a chain is a path of nodes where each next node has no other parent. Along a
// chain, a run of one repeated pattern of names (a period of 1 to MAX_PERIOD nodes, repeated at
// least MIN_REPEATS times over at least MIN_RUN nodes) is drawn as one box with its count, which a
// click expands. Nodes that produced a returned tensor never disappear into a box.

export const MIN_RUN = 16;
export const MIN_REPEATS = 3;
export const MAX_PERIOD = 4;
// Above this many drawn nodes the picture is simplified, as Graphviz's dot slows down sharply with
// long edges and with many small side nodes (and can run out of WebAssembly stack): None entries
// are not drawn, a leaf shared by several nodes is named in their labels ("→ w [3]") instead of
// being a node with long edges to all of them, and the layout takes its cheaper settings.
export const LARGE = 300;

export function quote(text) {
  return `"${String(text).replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

const shapeText = (shape) => `[${shape.join(", ")}]`;

function returnedNames(answer) {
  const byNode = new Map();
  for (const [name, t] of Object.entries(answer.tensors || {})) {
    if (t.grad_fn == null) continue;
    if (!byNode.has(t.grad_fn)) byNode.set(t.grad_fn, []);
    byNode.get(t.grad_fn).push(name);
  }
  return byNode;
}

function parentCounts(graph) {
  const count = new Map();
  for (const entry of Object.values(graph)) {
    for (const [child] of entry.next) if (child != null) count.set(child, (count.get(child) || 0) + 1);
  }
  return count;
}

// The chains of the graph, each an array of node ids from its head down.
function chains(graph, parents) {
  const next = new Map();
  const isLink = (id) => parents.get(id) === 1 && graph[id].name !== "AccumulateGrad";
  for (const [id, entry] of Object.entries(graph)) {
    const links = entry.next.filter(([child]) => child != null && isLink(child));
    if (links.length === 1 && entry.name !== "AccumulateGrad") next.set(id, links[0][0]);
  }
  const continued = new Set(next.values());
  const out = [];
  for (const id of Object.keys(graph)) {
    if (continued.has(id) || graph[id].name === "AccumulateGrad") continue;
    const chain = [id];
    for (let cur = next.get(id); cur !== undefined; cur = next.get(cur)) chain.push(cur);
    out.push(chain);
  }
  return out;
}

// Runs of a repeated pattern in one chain: [{start, period, count}] (count = nodes covered).
export function findRuns(tokens) {
  const runs = [];
  let i = 0;
  while (i < tokens.length) {
    let best = null;
    for (let p = 1; p <= MAX_PERIOD && i + p <= tokens.length; p++) {
      let end = i + p;
      while (end < tokens.length && tokens[end] === tokens[end - p]) end++;
      const repeats = Math.floor((end - i) / p);
      const covered = repeats * p;
      if (repeats >= MIN_REPEATS && covered >= MIN_RUN && (!best || covered > best.count)) {
        best = { start: i, period: p, count: covered };
      }
    }
    if (best) {
      runs.push(best);
      i += best.count;
    } else {
      i++;
    }
  }
  return runs;
}

// The groups to draw as one box: id -> {id, members, period, names}; and member -> group id.
function groups(graph, returned, expanded, collapse) {
  const groupOf = new Map();
  const all = new Map();
  if (!collapse) return { groupOf, all };
  for (const chain of chains(graph, parentCounts(graph))) {
    if (chain.length < MIN_RUN) continue;
    // a node that produced a returned tensor is a token of its own: it never repeats
    const tokens = chain.map((id) => (returned.has(id) ? `#${id}` : graph[id].name));
    for (const run of findRuns(tokens)) {
      const members = chain.slice(run.start, run.start + run.count);
      const id = `run_${members[0]}`;
      if (expanded.has(id)) continue;
      const names = tokens.slice(run.start, run.start + run.period);
      all.set(id, { id, members, period: run.period, names });
      for (const m of members) groupOf.set(m, id);
    }
  }
  return { groupOf, all };
}

function nodeLabel(entry, names) {
  const lines = [entry.name];
  if (entry.name === "AccumulateGrad") {
    const leaf = entry.variable || "(unnamed leaf)";
    lines.push(entry.shape ? `${leaf} ${shapeText(entry.shape)}` : leaf);
  }
  if (names && names.length) lines.push(names.join(", "));
  return lines.join("\n");
}

function nodeTooltip(id, entry) {
  const saved = entry.saved && entry.saved.length
    ? `saved tensors: ${entry.saved.map(shapeText).join(", ")}`
    : "no saved tensors";
  return `${entry.name} (${id}); ${saved}`;
}

// {dot, drawn, total, groups, simplified}: the DOT text, how many boxes it draws of how many nodes,
// and whether the large-graph simplifications applied.
export function toDot(answer, { collapse = true, expanded = new Set(), showNone = true } = {}) {
  const graph = answer.graph || {};
  const returned = returnedNames(answer);
  const { groupOf, all } = groups(graph, returned, expanded, collapse);
  const rep = (id) => groupOf.get(id) || id;
  const ids = Object.keys(graph);
  const drawnCount = ids.filter((id) => !groupOf.has(id)).length + all.size;
  const large = drawnCount > LARGE;
  const parents = parentCounts(graph);
  const folded = (id) => large && graph[id].name === "AccumulateGrad" && parents.get(id) > 1;
  const drawNone = showNone && !large;
  // the labels of nodes whose edges to shared leaves are folded: drawn id -> lines
  const foldedLines = new Map();
  const fold = (from, child) => {
    const entry = graph[child];
    const line = `\u2192 ${entry.variable || "(unnamed leaf)"}${entry.shape ? ` ${shapeText(entry.shape)}` : ""}`;
    if (!foldedLines.has(from)) foldedLines.set(from, new Set());
    foldedLines.get(from).add(line);
  };
  for (const id of ids) {
    for (const [child] of graph[id].next) if (child != null && folded(child)) fold(rep(id), child);
  }
  const extra = (id) => (foldedLines.has(id) ? `\n${[...foldedLines.get(id)].join("\n")}` : "");

  const lines = ["digraph grad_fn {"];
  lines.push(large
    ? "  graph [splines=false, nslimit=1, nslimit1=1, mclimit=0.1, ranksep=0.3];"
    : "  graph [ranksep=0.35];");
  lines.push('  node [shape=box, style="rounded,filled", fillcolor="#eef3ff", color="#5b6b8c", '
    + 'fontname="Helvetica", fontsize=11];');
  lines.push('  edge [color="#5b6b8c", fontname="Helvetica", fontsize=9, arrowsize=0.6];');
  for (const id of ids) {
    if (groupOf.has(id) || folded(id)) continue;
    const entry = graph[id];
    const attrs = [`id=${quote(`node_${id}`)}`, `label=${quote(nodeLabel(entry, returned.get(id)) + extra(id))}`,
      `tooltip=${quote(nodeTooltip(id, entry))}`];
    if (entry.name === "AccumulateGrad") attrs.push('fillcolor="#e3f4e1"', 'class="leaf"');
    if (returned.has(id)) attrs.push("penwidth=2");
    lines.push(`  ${id} [${attrs.join(", ")}];`);
  }
  for (const g of all.values()) {
    const pattern = g.period === 1 ? g.names[0] : `[${g.names.join(" \u2192 ")}]`;
    const count = g.members.length / g.period;
    lines.push(`  ${g.id} [id=${quote(`group_${g.id}`)}, class="group", `
      + `label=${quote(`${pattern} \u00d7 ${count}\n(${g.members.length} nodes; click to expand)${extra(g.id)}`)}, `
      + `tooltip=${quote(`${g.members.length} nodes from ${g.members[0]} to ${g.members.at(-1)}; click to expand`)}, `
      + 'fillcolor="#fff4d6", style="rounded,filled,bold"];');
  }
  const seen = new Set();
  let noneCount = 0;
  for (const id of ids) {
    const from = rep(id);
    for (const [child, nr] of graph[id].next) {
      if (child == null) {
        if (!drawNone || groupOf.has(id)) continue;
        const none = `none_${noneCount++}`;
        lines.push(`  ${none} [label="None", shape=plaintext, style="", fontcolor="#b0b0b0", class="none"];`);
        lines.push(`  ${from} -> ${none} [style=dashed, color="#c8c8c8"];`);
        continue;
      }
      const to = rep(child);
      if (to === from) continue;
      const label = (graph[child].outputs || 1) > 1 ? `label=${quote(String(nr))}` : "";
      if (folded(child)) continue;
      const key = `${from}>${to}>${nr}`;
      if (groupOf.has(id) || groupOf.has(child)) {
        if (seen.has(key)) continue;
        seen.add(key);
      }
      lines.push(`  ${from} -> ${to}${label ? ` [${label}]` : ""};`);
    }
  }
  lines.push("}");
  const drawn = drawnCount - ids.filter((id) => !groupOf.has(id) && folded(id)).length;
  return { dot: `${lines.join("\n")}\n`, drawn, total: ids.length, groups: all.size,
    simplified: large };
}
