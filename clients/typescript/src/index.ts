// gradserve's TypeScript client: request and answer types generated from openapi/openapi.json
// (generated/schema.d.ts, by the pinned openapi-typescript), a thin wrapper over the built-in fetch,
// and tensor helpers that always send typed tensor objects.
//
// Why the helpers: JSON.stringify([2.0, 3.0]) is "[2,3]", and the server reads an array literal
// the way torch.tensor does, so [2, 3] is int64 and requires_grad fails. f32([2.0, 3.0]) sends
// {"shape": [2], "datatype": "FP32", "b64": ...}: float32 whatever the numbers look like, and NaN
// and infinities (which JSON.stringify writes as null) travel in the bytes.
import type { components, paths } from "../generated/schema.js";

export type Schemas = components["schemas"];
export type RunRequest = Schemas["RunRequest"];
export type RunResponse = Schemas["RunResponse"];
export type Statement = Schemas["Statement"];
export type Arg = Schemas["Arg"];
export type TensorObject = Schemas["TensorObject"];
/** A value of a request's `inputs`: an array literal, or a tensor object that may require grad. */
export type InputTensor = Schemas["InputTensor"];
export type TensorOut = Schemas["TensorOut"];
export type Problem = Schemas["Problem"];
export type Catalog = paths["/v1/ops"]["get"]["responses"][200]["content"]["application/json"];

/** A problem answer (RFC 9457): `kind` is the last part of `type`, `pointer` a JSON Pointer. */
export class ProblemError extends Error {
  readonly problem: Problem;
  readonly status: number;
  readonly kind: string;
  readonly pointer: string | null;

  constructor(problem: Problem, status: number) {
    const kind = problem.type.slice(problem.type.lastIndexOf("/") + 1);
    const where = problem.pointer ? ` at ${problem.pointer}` : "";
    super(`${kind} (${status})${where}: ${problem.detail}`);
    this.name = "ProblemError";
    this.problem = problem;
    this.status = status;
    this.kind = kind;
    this.pointer = problem.pointer ?? null;
  }

  /** `pointer` as path parts: "/program/1/args/0" -> ["program", 1, "args", 0]. */
  get location(): (string | number)[] {
    if (!this.pointer) return [];
    return this.pointer
      .split("/")
      .slice(1)
      .map((p) => p.replaceAll("~1", "/").replaceAll("~0", "~"))
      .map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  }
}

export interface ClientOptions {
  /** default: $GRADSERVE_URL under Node, then http://127.0.0.1:8000 */
  baseUrl?: string;
  apiKey?: string;
  fetch?: typeof fetch;
}

const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;

export class Gradserve {
  readonly baseUrl: string;
  private readonly headers: Record<string, string>;
  private readonly fetch: typeof fetch;

  constructor(options: ClientOptions = {}) {
    this.baseUrl = (options.baseUrl ?? env?.GRADSERVE_URL ?? "http://127.0.0.1:8000").replace(/\/$/, "");
    this.headers = { "content-type": "application/json" };
    if (options.apiKey) this.headers.authorization = `Bearer ${options.apiKey}`;
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  /** Run a program; throws ProblemError for a problem answer. */
  async run(request: RunRequest): Promise<RunResponse> {
    const res = await this.fetch(`${this.baseUrl}/v1/run`, {
      method: "POST",
      headers: this.headers,
      body: JSON.stringify(request),
    });
    return (await this.answer(res)) as RunResponse;
  }

  /** The op catalog (GET /v1/ops). */
  async ops(): Promise<Catalog> {
    const res = await this.fetch(`${this.baseUrl}/v1/ops`, { headers: this.headers });
    return (await this.answer(res)) as Catalog;
  }

  private async answer(res: Response): Promise<unknown> {
    const body: unknown = await res.json();
    if ((res.headers.get("content-type") ?? "").startsWith("application/problem+json")) {
      throw new ProblemError(body as Problem, res.status);
    }
    if (!res.ok) throw new Error(`gradserve answered ${res.status}`);
    return body;
  }
}

// ----- tensors ---------------------------------------------------------------------------------
/** A number, or arrays of them nested as deep as the tensor has dimensions. */
export type Nested<T> = T | readonly Nested<T>[];

function flatten<T>(values: Nested<T> | ArrayLike<T>, shape?: readonly number[]): { flat: T[]; shape: number[] } {
  if (shape !== undefined) {
    const flat = Array.from(values as ArrayLike<T>);
    return { flat, shape: [...shape] };
  }
  const dims: number[] = [];
  let probe: unknown = values;
  while (Array.isArray(probe) || ArrayBuffer.isView(probe)) {
    dims.push((probe as ArrayLike<unknown>).length);
    probe = (probe as ArrayLike<unknown>)[0];
  }
  const flat = (Array.isArray(values) ? (values as unknown[]).flat(Infinity) : Array.from(values as ArrayLike<T>)) as T[];
  if (!Array.isArray(values) && !ArrayBuffer.isView(values)) return { flat: [values as T], shape: [] };
  return { flat, shape: dims };
}

function toBase64(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}

function fromBase64(text: string): Uint8Array {
  const raw = atob(text);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

/** A float32 tensor object (torch's default float): `f32([2.0, 3.0])`, `f32([[1, 2], [3, 4]])`,
 * `f32(float32Array, [2, 2])`. Sent as little-endian bytes, so NaN and infinities survive. */
export function f32(values: Nested<number> | ArrayLike<number>, shape?: readonly number[]): TensorObject {
  const t = flatten(values, shape);
  const bytes = new Uint8Array(Float32Array.from(t.flat).buffer);
  return { shape: t.shape, datatype: "FP32", b64: toBase64(bytes) };
}

/** A float64 tensor object. */
export function f64(values: Nested<number> | ArrayLike<number>, shape?: readonly number[]): TensorObject {
  const t = flatten(values, shape);
  const bytes = new Uint8Array(Float64Array.from(t.flat).buffer);
  return { shape: t.shape, datatype: "FP64", b64: toBase64(bytes) };
}

/** An int64 tensor object (whole numbers; throws on a fraction). */
export function i64(values: Nested<number> | ArrayLike<number>, shape?: readonly number[]): TensorObject {
  const t = flatten(values, shape);
  for (const v of t.flat) {
    if (!Number.isSafeInteger(v)) throw new RangeError(`i64: ${v} is not a whole number`);
  }
  return { shape: t.shape, datatype: "INT64", data: t.flat };
}

/** A bool tensor object. */
export function bool(values: Nested<boolean> | ArrayLike<boolean>, shape?: readonly number[]): TensorObject {
  const t = flatten(values, shape);
  return { shape: t.shape, datatype: "BOOL", data: t.flat };
}

/** An input (`inputs: {x: requiresGrad(f32([1, 2]))}`) that is a leaf requiring grad, as
 * `torch.tensor(..., requires_grad=True)`: the program's gradient reaches it. */
export function requiresGrad(t: TensorObject): InputTensor {
  return { ...t, requires_grad: true };
}

const NONFINITE: Record<string, number> = { NaN: NaN, Infinity: Infinity, "-Infinity": -Infinity };

/** A returned tensor's values, flat and row-major: from `b64`, a Float32Array / Float64Array for
 * floats; from `data`, numbers as the server wrote them (a float32 as its shortest decimal, 0.1
 * not 0.10000000149011612); numbers for INT64 and booleans for BOOL either way. */
export function values(t: TensorObject): Float32Array | Float64Array | number[] | boolean[] {
  if (t.b64 != null) {
    const bytes = fromBase64(t.b64);
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    switch (t.datatype) {
      case "FP32":
        return new Float32Array(buffer);
      case "FP64":
        return new Float64Array(buffer);
      case "INT64":
        return Array.from(new BigInt64Array(buffer), Number);
      case "BOOL":
        return Array.from(bytes, (b) => b !== 0);
    }
  }
  const data = t.data ?? [];
  if (t.datatype === "BOOL") return data.map((v) => v === true);
  return data.map((v) => (typeof v === "string" ? (NONFINITE[v] ?? NaN) : Number(v)));
}
