"""Service cases: gradserve's HTTP service against torch endpoints, the bare framework, orjson,
and itself (base64 against JSON lists, two workers against one).

They need ``service.app`` (``needs="service"``): the harness reports them "pending service" until
it is importable.  Request bodies come from bench/programs; the torch endpoint and the constant
endpoint live in bench/baselines/.

* In-process cases call the service without sockets: the tutorial through its interpreter (parse +
  validate + run + encode), the large tensors through the whole ASGI app (bench/servers.py
  AsgiClient), so FastAPI's own body handling is counted.
* HTTP cases serve each app with the same uvicorn command in a subprocess on a loopback port, and
  drive it from the worker with the bounded load generator (bench/loadgen.py): 8 keep-alive
  connections, one timed run of ``duration`` seconds per repetition; the value is requests/s.
"""

from __future__ import annotations

from typing import Any

from bench import programs
from bench.registry import (
    BASELINE,
    GRADSERVE,
    REFERENCE,
    Case,
    Params,
    at_least,
    at_most,
    register,
)
from bench.servers import AsgiClient, HttpLoad, Server, service_app, service_app_object

RUN = "/v1/run"
# Every server runs without access logs (uvicorn --no-access-log for all apps; gradserve's own
# one-JSON-line-per-request log is its equivalent), so no side pays for logging the others skip.
_SERVICE_ENV = {"GRADSERVE_ACCESS_LOG": "false"}
_HTTP_FULL = {"connections": 8, "duration": 2.0}
_HTTP_SMOKE = {"connections": 2, "duration": 0.3}
# a 1,000,000-element FP32 JSON list is ~11 MB: over the service's default 10 MiB body limit
_BIG_BODY_ENV = {**_SERVICE_ENV, "GRADSERVE_MAX_BODY_BYTES": str(64 * 2**20)}


def _check(status: int, body: bytes) -> None:
    if status != 200:
        raise RuntimeError(f"POST {RUN} answered {status}: {body[:500]!r}")


# ----- the tutorial, in process ------------------------------------------------------------------
class _Interpreter:
    """The service's request path without HTTP: parse (jiter) + validate and compile (straight
    into the compiled form, or the request models), run (the interpreter, in a fresh contextvars
    context as the service runs it) and encode (the service's orjson options)."""

    def __init__(self, body: bytes, cached: bool = True) -> None:
        import contextvars

        from service.interpreter import Interpreter
        from service.json_compiler import read_request
        from service.jsonbody import parse
        from service.program import RunRequest, noted
        from service.responses import dumps
        from service.settings import Settings
        from service.source.cache import TranslationCache

        self.body, self.settings = body, Settings()
        # as the app keeps one (service/app.py); off, every request is parsed and translated
        self.translations = TranslationCache(self.settings.source_cache_entries if cached else 0)
        self._copy_context, self._dumps = contextvars.copy_context, dumps
        self._request, self._interpreter, self._noted = RunRequest, Interpreter, noted
        self._parse, self._read = parse, read_request

    def _once(self) -> bytes:
        # as service/routers/run.py reads a body: straight into its compiled form where
        # service/json_compiler.py takes it, else through the request models
        document = self._parse(self.body)
        request = self._read(document, self.settings.max_nesting_depth) or \
            self._request.model_validate(document)
        if request.source is not None:  # as service/routers/run.py does: translate, then run
            from service.source.request import program_request

            request, _ = program_request(request, self.settings, self.translations)
        run = self._interpreter(request, self.settings, program=self._noted(request, "compiled"))
        return self._dumps(run.run().answer_or_raise())

    def __call__(self) -> bytes:
        return self._copy_context().run(self._once)


def tutorial_gradserve(p: Params) -> Any:
    run = _Interpreter(programs.tutorial())
    run()  # fails here, at setup, if the service rejects the program
    return run


def tutorial_torch(p: Params) -> Any:
    from bench.baselines.tutorial_torch import run_tutorial

    return run_tutorial


register(Case(
    "tutorial_inproc", "seed tutorial program, interpreter only (parse + validate + run + encode)",
    tutorial_gradserve, tutorial_torch, baseline_name="same program written against torch",
    target=at_most(0.6), full={}, smoke={}, inner=20, needs="service",
))


def _seed_tutorial(form: str, cached: bool = True) -> Any:
    run = _Interpreter(programs.seed_tutorial(form), cached)
    run()
    return run


register(Case(
    "tutorial_source", "seed tutorial's code sent as PyTorch source, as served (the same source "
    "again: its translation comes from the app's cache; + validate + run + encode)",
    lambda p: _seed_tutorial("source"), lambda p: _seed_tutorial("program"),
    baseline_name="the same request as its JSON program (parse + validate + run + encode)",
    target=at_most(1.3), full={}, smoke={}, inner=20, needs="service",
    baseline_needs_torch=False, gradserve_label="gradserve, source form",
))
register(Case(
    "tutorial_source_cold", "seed tutorial's code sent as PyTorch source, every request parsed "
    "and translated (cache off: parse + translate + validate + run + encode)",
    lambda p: _seed_tutorial("source", cached=False), lambda p: _seed_tutorial("program"),
    baseline_name="the same request as its JSON program (parse + validate + run + encode)",
    target=REFERENCE, full={}, smoke={}, inner=20, needs="service",
    baseline_needs_torch=False, gradserve_label="gradserve, source form, uncached",
))


def tutorial_engine(p: Params) -> Any:
    from bench.programs.tutorial_engine import run_tutorial

    return run_tutorial


def tutorial_torch_unencoded(p: Params) -> Any:
    from bench.baselines.tutorial_torch import run_tutorial

    return lambda: run_tutorial(encode=False)


register(Case(
    "tutorial_engine", "same program on the engine's Python API, no service (reference row: the "
    "engine's share)", tutorial_engine, tutorial_torch_unencoded,
    baseline_name="same program against torch, no answer encoded", target=REFERENCE, full={},
    smoke={}, inner=20,
))


# ----- the tutorial over HTTP ------------------------------------------------------------------
def _http(app: str, factory: bool, p: Params, body: bytes, workers: int = 1) -> HttpLoad:
    server = Server(app, workers=workers, factory=factory)
    return HttpLoad(server, RUN, body, p["connections"], p["duration"])


def http_gradserve(p: Params) -> HttpLoad:
    app, factory = service_app()
    return _http(app, factory, p, programs.tutorial(), p.get("workers", 1))


def http_torch(p: Params) -> HttpLoad:
    return _http("bench.baselines.torch_app:app", False, p, programs.tutorial())


def http_gradserve_trivial(p: Params) -> HttpLoad:
    app, factory = service_app()
    return _http(app, factory, p, programs.trivial())


def http_constant(p: Params) -> HttpLoad:
    return _http("bench.baselines.constant_app:app", False, p, programs.trivial())


def http_gradserve_inputs(p: Params) -> HttpLoad:
    app, factory = service_app()
    return _http(app, factory, p, programs.tutorial_inputs())


def http_gradserve_1_worker(p: Params) -> HttpLoad:
    return http_gradserve({**p, "workers": 1})


register(Case(
    "http_torch", "seed tutorial over HTTP, 1 uvicorn worker, 8 connections (requests/s)",
    http_gradserve, http_torch, baseline_name="FastAPI + torch endpoint (bench/baselines)",
    target=at_least(1.5), full=_HTTP_FULL, smoke=_HTTP_SMOKE, metric="rate", reps=5, warmup=1,
    needs="service", env={GRADSERVE: _SERVICE_ENV},
))
register(Case(
    "http_trivial", "a one-statement program (ones of size [2]) over HTTP, 1 uvicorn worker, "
    "8 connections, against the bare framework (requests/s): what the service adds around a "
    "program", http_gradserve_trivial, http_constant,
    baseline_name="async FastAPI endpoint answering a constant",
    target=at_least(0.5), full=_HTTP_FULL, smoke=_HTTP_SMOKE, metric="rate", reps=5, warmup=1,
    needs="service", env={GRADSERVE: _SERVICE_ENV}, baseline_needs_torch=False,
))
register(Case(
    "http_inputs", "the tutorial with its x sent as an input, the same program every request "
    "(its compiled form from the compile cache), 1 uvicorn worker, 8 connections (requests/s)",
    http_gradserve_inputs, http_torch, baseline_name="FastAPI + torch endpoint (http_torch's)",
    target=at_least(2.0), full=_HTTP_FULL, smoke=_HTTP_SMOKE, metric="rate", reps=5, warmup=1,
    needs="service", env={GRADSERVE: _SERVICE_ENV},
))
register(Case(
    "http_workers", "seed tutorial over HTTP, 2 uvicorn workers vs 1, 8 connections (requests/s)",
    http_gradserve, http_gradserve_1_worker, baseline_name="gradserve, 1 worker",
    target=at_least(1.8), full={**_HTTP_FULL, "workers": 2}, smoke={**_HTTP_SMOKE, "workers": 2},
    metric="rate", reps=5, warmup=1, needs="service", baseline_needs_torch=False,
    env={GRADSERVE: _SERVICE_ENV, BASELINE: _SERVICE_ENV},
    gradserve_label="gradserve, 2 workers",
    note="the load generator shares the 2 cores with the servers",
))


# ----- 1,000,000-element FP32 tensor in and out ------------------------------------------------
class _AsgiPost:
    def __init__(self, body: bytes) -> None:
        self.client, self.body = AsgiClient(service_app_object()), body
        self()  # fails at setup if the service rejects the request

    def __call__(self) -> None:
        _check(*self.client.post(RUN, self.body))

    def close(self) -> None:
        self.client.close()


def tensor_b64(p: Params) -> _AsgiPost:
    return _AsgiPost(programs.scale_program(programs.big_tensor(p["n"]), "base64"))


def tensor_json(p: Params) -> _AsgiPost:
    return _AsgiPost(programs.scale_program(programs.big_tensor(p["n"]), "json"))


def orjson_roundtrip(p: Params) -> Any:
    """orjson loads of the JSON request and dumps of an answer with the same lists as the
    service's (x's values and x.grad): the floor for any JSON path."""
    import orjson

    values = programs.big_tensor(p["n"])
    body = programs.scale_program(values, "json")
    grad = [2.0] * values.size

    def run() -> bytes:
        data = orjson.loads(body)["program"][0]["args"][0]["data"]
        return orjson.dumps({"tensors": {"x": {"data": data, "grad": {"data": grad}}}})

    return run


_BIG_FULL, _BIG_SMOKE = {"n": 1_000_000}, {"n": 1000}
register(Case(
    "tensor_b64", "1,000,000-element FP32 in and out (x -> x * 2, grad), base64 vs JSON list",
    tensor_b64, tensor_json, baseline_name="gradserve, JSON-list path", target=at_most(0.05),
    # (4 requests per repetition: a repetition should last >= ~20 ms, and one lone request timed
    # right after the other side's process ran measured how cold the caches were, not the path)
    full=_BIG_FULL, smoke=_BIG_SMOKE, reps=5, inner=4, needs="service", baseline_needs_torch=False,
    gradserve_label="gradserve, base64 path",
    env={GRADSERVE: _BIG_BODY_ENV, BASELINE: _BIG_BODY_ENV},
    note="target: base64 >= 20x faster, i.e. time ratio <= 0.05",
))
register(Case(
    "tensor_json", "same, JSON-list path vs orjson loads + dumps of the same lists",
    tensor_json, orjson_roundtrip, baseline_name="orjson loads + dumps", target=at_most(2.0),
    full=_BIG_FULL, smoke=_BIG_SMOKE, reps=5, needs="service", baseline_needs_torch=False,
    env={GRADSERVE: _BIG_BODY_ENV},
))


# ----- the cached request's validate + compile share ---------------------------------------------
class _CachedRequest:
    """http_inputs' request through the ASGI app in process, its program in the compile cache."""

    def __init__(self) -> None:
        from service.routers.run import router

        self.app = service_app_object()
        self.client, self.body = AsgiClient(self.app), programs.tutorial_inputs()
        for _ in range(2):  # compiled, then asked for again: in the cache's protected part
            self()
        self.route = next(r for r in router.routes if getattr(r, "path", None) == RUN)

    def __call__(self) -> None:
        _check(*self.client.post(RUN, self.body))

    def validate_and_compile(self) -> Any:
        """What validating and compiling cost the cached request: the cache lookup (the program's
        key) and the validation of the rest of the body. (Parsing the JSON is not counted.) The
        body's size is given, as the route gives it: knowing it, the lookup does not walk the
        program to bound its key's length."""
        from service.jsonbody import read_body
        from service.program import noted

        state = self.app.shared  # (service/deps.py: what the routes read)
        document, size = read_body(self.body, state.settings.max_nesting_depth), len(self.body)

        def step() -> None:
            value = self.route.validate_body(document, state, size)
            assert noted(value, "found").program is not None  # (a hit: nothing compiled)

        return step

    def close(self) -> None:
        self.client.close()


class _CachedValidate:
    def __init__(self) -> None:
        self.request = _CachedRequest()
        self.step = self.request.validate_and_compile()

    def __call__(self) -> None:
        self.step()

    def close(self) -> None:
        self.request.close()


def _cached_validate(p: Params) -> Any:
    return _CachedValidate()


register(Case(
    "inputs_validate_share", "http_inputs' cached request: its validate + compile steps (cache "
    "lookup, validation of the body less the cached program) against the whole request through "
    "the ASGI app in process (the ratio is their share of its CPU time)",
    _cached_validate, lambda p: _CachedRequest(), baseline_name="the whole cached request",
    target=at_most(0.10), full={}, smoke={}, inner=50, needs="service",
    baseline_needs_torch=False, gradserve_label="validate + compile",
))
