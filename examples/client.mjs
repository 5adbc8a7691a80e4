#!/usr/bin/env node
// A gradserve client in plain Node.js (18+), using only the built-in fetch.
//
//   node examples/client.mjs [program.json]
//
// Posts a program (default: the seed tutorial next to this file) to $GRADSERVE_URL
// (default http://127.0.0.1:8000), prints what the program printed and its tensors' gradients,
// then shows a problem response and a base64 round trip. Exits non-zero on any surprise.
import { readFile } from "node:fs/promises";

const base = process.env.GRADSERVE_URL ?? "http://127.0.0.1:8000";

async function run(program) {
  const res = await fetch(`${base}/v1/run`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(program),
  });
  return { status: res.status, type: res.headers.get("content-type"), body: await res.json() };
}

// Non-finite floats travel as strings in JSON data; Number() reads all three spellings.
const decode = (data) => data.map((v) => (typeof v === "string" ? Number(v) : v));

function fail(message) {
  console.error(`client.mjs: ${message}`);
  process.exit(1);
}

// 1. The tutorial.
const file = process.argv[2] ?? new URL("./seed_tutorial.json", import.meta.url);
const program = JSON.parse(await readFile(file, "utf8"));
const answer = await run(program);
if (answer.status !== 200) {
  const p = answer.body;
  fail(`${p.title} (${p.status}) at ${p.pointer}: ${p.detail}`);
}
for (const text of answer.body.printed) console.log(text);
for (const [name, t] of Object.entries(answer.body.tensors)) {
  if (t.grad) console.log(`${name}.grad = [${decode(t.grad.data).join(", ")}]`);
}

// 2. A program that fails: the problem says what and where (a JSON Pointer into the request).
const bad = await run({ program: [{ print: { op: "add", args: [[1.0, 2.0], [1.0, 2.0, 3.0]] } }] });
if (bad.status !== 422 || bad.type !== "application/problem+json") fail("expected a problem");
console.log(`problem: ${bad.body.type} at ${bad.body.pointer}: ${bad.body.detail}`);

// 3. Base64 both ways: float32 little-endian bytes, NaN and infinities carried natively.
const input = new Float32Array([1.5, NaN, -Infinity, 2]);
const b64 = Buffer.from(input.buffer).toString("base64");
const twice = await run({
  encoding: "base64",
  program: [{ name: "y", op: "mul", args: [{ shape: [4], datatype: "FP32", b64 }, 2] }],
});
const raw = Buffer.from(twice.body.tensors.y.b64, "base64");
const y = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
console.log(`base64: [${Array.from(y).join(", ")}]`);
if (y[0] !== 3 || !Number.isNaN(y[1]) || y[2] !== -Infinity || y[3] !== 4) fail("base64 mismatch");
