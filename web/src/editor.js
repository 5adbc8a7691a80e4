// The program editor: CodeMirror 6 with JSON or Python highlighting, Ctrl/Cmd+Enter to run, and
// problems marked where they are (lint diagnostics plus a marked line).

import { basicSetup, EditorView } from "codemirror";
import { json } from "@codemirror/lang-json";
import { python } from "@codemirror/lang-python";
import { ensureSyntaxTree } from "@codemirror/language";
import { setDiagnostics } from "@codemirror/lint";
import { Compartment, EditorState, Prec, StateEffect, StateField } from "@codemirror/state";
import { Decoration, keymap } from "@codemirror/view";

const language = new Compartment();

const setProblemLine = StateEffect.define();
const problemLines = StateField.define({
  create: () => Decoration.none,
  update(lines, tr) {
    lines = lines.map(tr.changes);
    for (const effect of tr.effects) {
      if (effect.is(setProblemLine)) {
        lines = Decoration.set(effect.value.map((pos) => Decoration.line({ class: "cm-problem-line" }).range(pos)),
          true);
      }
    }
    return lines;
  },
  provide: (field) => EditorView.decorations.from(field),
});

// CodeMirror styles itself with style elements, which the page's Content-Security-Policy refuses
// (no inline style); inside a shadow root it uses constructed style sheets instead, which the
// policy allows. The page's stylesheet does not reach into the shadow root: the editor's own look
// is this theme.
const theme = EditorView.theme({
  "&": { height: "100%", backgroundColor: "#fff" },
  ".cm-scroller": { fontSize: "13px", fontFamily: "ui-monospace, SFMono-Regular, Menlo, monospace" },
  ".cm-problem-line": { backgroundColor: "#ffe9e9" },
});

export function createEditor(host, onRun) {
  const run = () => {
    onRun();
    return true;
  };
  const root = host.attachShadow({ mode: "open" });
  return new EditorView({
    parent: root,
    root,
    state: EditorState.create({
      doc: "",
      extensions: [
        Prec.highest(keymap.of([{ key: "Mod-Enter", run }])),
        basicSetup,
        language.of(json()),
        problemLines,
        theme,
        EditorView.lineWrapping,
      ],
    }),
  });
}

export function setFormat(view, format) {
  view.dispatch({ effects: language.reconfigure(format === "source" ? python() : json()) });
}

export function setText(view, text) {
  view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
  clearProblems(view);
}

export function clearProblems(view) {
  view.dispatch(setDiagnostics(view.state, []));
  view.dispatch({ effects: setProblemLine.of([]) });
}

// Marks: [{from, to, message}]. The lines they start on are marked too; the first is scrolled to.
export function showProblems(view, marks) {
  const doc = view.state.doc;
  const diagnostics = marks.map((m) => ({ from: m.from, to: Math.max(m.to, m.from), severity: "error",
    message: m.message }));
  view.dispatch(setDiagnostics(view.state, diagnostics));
  const lines = [...new Set(marks.map((m) => doc.lineAt(m.from).from))].sort((a, b) => a - b);
  view.dispatch({ effects: [setProblemLine.of(lines),
    ...(marks.length ? [EditorView.scrollIntoView(marks[0].from, { y: "center" })] : [])] });
}

// The range of a source line (1-based), clamped to the document.
export function lineRange(view, line) {
  const doc = view.state.doc;
  const l = doc.line(Math.min(Math.max(line, 1), doc.lines));
  return { from: l.from, to: l.to };
}

const VALUE_NODES = new Set(["Object", "Array", "String", "Number", "True", "False", "Null"]);

function values(node) {
  const out = [];
  for (let child = node.firstChild; child; child = child.nextSibling) {
    if (VALUE_NODES.has(child.name)) out.push(child);
  }
  return out;
}

// The range a JSON pointer names in the editor's JSON text: the deepest value it reaches (a
// pointer past what the text holds stops at the last value found), and the range of the program
// statement it is in (pointers that start /program/N), if any.
export function pointerRange(view, pointer) {
  const state = view.state;
  const tree = ensureSyntaxTree(state, state.doc.length, 2000);
  if (!tree) return null;
  const text = (node) => state.doc.sliceString(node.from, node.to);
  let node = values(tree.topNode)[0];
  if (!node) return null;
  let statement = null;
  const tokens = pointer.split("/").slice(1).map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
  for (let depth = 0; depth < tokens.length; depth++) {
    const token = tokens[depth];
    let found = null;
    if (node.name === "Object") {
      for (let prop = node.firstChild; prop; prop = prop.nextSibling) {
        if (prop.name !== "Property") continue;
        const key = prop.getChild("PropertyName");
        let name = null;
        try {
          name = key && JSON.parse(text(key));
        } catch {
          name = null;
        }
        if (name === token) {
          found = values(prop).at(-1) || null;
          break;
        }
      }
    } else if (node.name === "Array" && /^\d+$/.test(token)) {
      found = values(node)[Number(token)] || null;
    }
    if (!found) break;
    node = found;
    if (depth === 1 && tokens[0] === "program") statement = { from: node.from, to: node.to };
  }
  return { from: node.from, to: node.to, statement };
}
