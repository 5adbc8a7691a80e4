"""An answer's grad_fn graph as Graphviz DOT text (the request option ``"graph_format": "dot"``).

The labels follow the playground's picture: a node shows its grad_fn name; an AccumulateGrad node
the leaf's program name and shape; a node that produced a returned tensor that tensor's name. An
edge is drawn for each next_functions entry that is not None, from the node to the node that
produced the input (backward's direction, as torch lists next_functions), labelled with the
output index where the target has several outputs. A node's tooltip lists its saved tensors'
shapes. The whole graph is written, however large: collapsing long runs is the page's job."""

from __future__ import annotations

from typing import Any


def quote(text: str) -> str:
    """A DOT double-quoted string: backslashes and quotes escaped, newlines as DOT's ``\\n``."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def shape_text(shape: list[int]) -> str:
    return "[" + ", ".join(map(str, shape)) + "]"


def _label(entry: dict[str, Any], returned: list[str]) -> str:
    lines = [entry["name"]]
    if entry["name"] == "AccumulateGrad":
        leaf = entry.get("variable") or "(unnamed leaf)"
        lines.append(f"{leaf} {shape_text(entry['shape'])}" if "shape" in entry else leaf)
    if returned:
        lines.append(", ".join(returned))
    return "\n".join(lines)


def to_dot(graph: dict[str, dict[str, Any]], tensors: dict[str, dict[str, Any]]) -> str:
    returned: dict[str, list[str]] = {}
    for name, t in tensors.items():
        if t.get("grad_fn") is not None:
            returned.setdefault(t["grad_fn"], []).append(name)
    out = ["digraph grad_fn {", '  node [shape=box, style="rounded,filled", fillcolor="#eef3ff", '
           'fontname="Helvetica"];', '  edge [fontname="Helvetica", fontsize=10];']
    for nid, entry in graph.items():
        attrs = [f"label={quote(_label(entry, returned.get(nid, [])))}"]
        if entry["name"] == "AccumulateGrad":
            attrs.append('fillcolor="#e6f5e6"')
        if entry.get("saved"):
            attrs.append("tooltip=" + quote("saved: " + ", ".join(map(shape_text, entry["saved"]))))
        out.append(f"  {nid} [{', '.join(attrs)}];")
    for nid, entry in graph.items():
        for child, nr in entry["next"]:
            if child is None:
                continue
            label = f" [label={quote(str(nr))}]" if graph[child].get("outputs", 1) > 1 else ""
            out.append(f"  {nid} -> {child}{label};")
    out.append("}")
    return "\n".join(out) + "\n"
