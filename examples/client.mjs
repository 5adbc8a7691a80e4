#!/usr/bin/env node
// A gradserve client in plain Node.js (18+), with the shipped TypeScript client's built output
// (clients/typescript/dist: no dependencies, nothing to install).
//
//   node examples/client.mjs [program.json]
//
// Posts a program (default: the seed tutorial next to this file) to $GRADSERVE_URL
// (default http://127.0.0.1:8000), prints what the program printed and its tensors' gradients,
// then shows a problem response, the integer trap and its fix, and a base64 round trip. Exits
// non-zero on any surprise.
import { readFile } from "node:fs/promises";
import { Gradserve, ProblemError, f32, values } from "../clients/typescript/dist/index.js";

const client = new Gradserve();

function fail(message) {
  console.error(`client.mjs: ${message}`);
  process.exit(1);
}

// 1. The tutorial.
const file = process.argv[2] ?? new URL("./seed_tutorial.json", import.meta.url);
const answer = await client.run(JSON.parse(await readFile(file, "utf8")));
for (const text of answer.printed) console.log(text);
for (const [name, t] of Object.entries(answer.tensors)) {
  if (t.grad) console.log(`${name}.grad = [${Array.from(values(t.grad)).join(", ")}]`);
}

// 2. A program that fails: the problem says what and where (a JSON Pointer into the request).
try {
  await client.run({ program: [{ print: { op: "add", args: [[1.0, 2.0], [1.0, 2.0, 3.0]] } }] });
  fail("expected a problem");
} catch (err) {
  if (!(err instanceof ProblemError)) throw err;
  console.log(`problem: ${err.problem.type} at ${err.pointer}: ${err.problem.detail}`);
}

// 3. The integer trap: JSON.stringify writes [2.0, 3.0] as [2,3], which is an int64 literal (as
// torch.tensor([2, 3]) is), and requires_grad refuses it. f32 sends a typed tensor object.
const floats = [2.0, 3.0];
console.log(`JSON.stringify([2.0, 3.0]) = ${JSON.stringify(floats)}`);
try {
  await client.run({ program: [{ name: "w", op: "tensor", args: [floats], attrs: { requires_grad: true } }] });
  fail("expected the int64 literal to be refused");
} catch (err) {
  if (!(err instanceof ProblemError) || err.kind !== "autograd-error") throw err;
  console.log(`as a literal: ${err.problem.detail}`);
}
const typed = await client.run({
  program: [
    { name: "w", op: "tensor", args: [f32(floats)], attrs: { requires_grad: true } },
    { op: "backward", args: [{ op: "sum", args: [{ op: "mul", args: ["w", "w"] }] }] },
  ],
});
const w = typed.tensors.w;
console.log(`with f32: w = [${Array.from(values(w)).join(", ")}], ${w.datatype}, w.grad = [${Array.from(values(w.grad)).join(", ")}]`);

// 4. Base64 both ways: float32 little-endian bytes, NaN and infinities carried natively.
const twice = await client.run({
  encoding: "base64",
  program: [{ name: "y", op: "mul", args: [f32([1.5, NaN, -Infinity, 2]), 2] }],
});
const y = values(twice.tensors.y);
console.log(`base64: [${Array.from(y).join(", ")}]`);
if (y[0] !== 3 || !Number.isNaN(y[1]) || y[2] !== -Infinity || y[3] !== 4) fail("base64 mismatch");
