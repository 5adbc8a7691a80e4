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
export declare class ProblemError extends Error {
    readonly problem: Problem;
    readonly status: number;
    readonly kind: string;
    readonly pointer: string | null;
    constructor(problem: Problem, status: number);
    /** `pointer` as path parts: "/program/1/args/0" -> ["program", 1, "args", 0]. */
    get location(): (string | number)[];
}
export interface ClientOptions {
    /** default: $GRADSERVE_URL under Node, then http://127.0.0.1:8000 */
    baseUrl?: string;
    apiKey?: string;
    fetch?: typeof fetch;
}
export declare class Gradserve {
    readonly baseUrl: string;
    private readonly headers;
    private readonly fetch;
    constructor(options?: ClientOptions);
    /** Run a program; throws ProblemError for a problem answer. */
    run(request: RunRequest): Promise<RunResponse>;
    /** The op catalog (GET /v1/ops). */
    ops(): Promise<Catalog>;
    private answer;
}
/** A number, or arrays of them nested as deep as the tensor has dimensions. */
export type Nested<T> = T | readonly Nested<T>[];
/** A float32 tensor object (torch's default float): `f32([2.0, 3.0])`, `f32([[1, 2], [3, 4]])`,
 * `f32(float32Array, [2, 2])`. Sent as little-endian bytes, so NaN and infinities survive. */
export declare function f32(values: Nested<number> | ArrayLike<number>, shape?: readonly number[]): TensorObject;
/** A float64 tensor object. */
export declare function f64(values: Nested<number> | ArrayLike<number>, shape?: readonly number[]): TensorObject;
/** An int64 tensor object (whole numbers; throws on a fraction). */
export declare function i64(values: Nested<number> | ArrayLike<number>, shape?: readonly number[]): TensorObject;
/** A bool tensor object. */
export declare function bool(values: Nested<boolean> | ArrayLike<boolean>, shape?: readonly number[]): TensorObject;
/** An input (`inputs: {x: requiresGrad(f32([1, 2]))}`) that is a leaf requiring grad, as
 * `torch.tensor(..., requires_grad=True)`: the program's gradient reaches it. */
export declare function requiresGrad(t: TensorObject): InputTensor;
/** A returned tensor's values, flat and row-major: from `b64`, a Float32Array / Float64Array for
 * floats; from `data`, numbers as the server wrote them (a float32 as its shortest decimal, 0.1
 * not 0.10000000149011612); numbers for INT64 and booleans for BOOL either way. */
export declare function values(t: TensorObject): Float32Array | Float64Array | number[] | boolean[];
