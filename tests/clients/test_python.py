"""clients/python against a live server (its README's tutorial, sync and async, numpy in and out,
problems as ProblemError), and the clients openapi-python-client and datamodel-code-generator
generate from the committed contract: each calls /v1/run with the seed tutorial and a while
program (built from plain JSON by the generated models, sent as they serialise it)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gradserve_client import AsyncClient, Client, ProblemError, tensor

from tests.clients.conftest import CONTRACT, TUTORIAL, WHILE_PROGRAM, load, run
from tests.service.helpers import ROOT

pytestmark = pytest.mark.timeout(900)

README = ROOT / "clients" / "python" / "README.md"


def test_readme_example_runs_the_seed_tutorial(live_url: str, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    (example,) = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    monkeypatch.setenv("GRADSERVE_URL", live_url)
    exec(compile(example, str(README), "exec"), {})  # the README's own code, as a reader runs it
    out = capsys.readouterr().out
    assert out.startswith("tensor([[1., 1.],\n        [1., 1.]], requires_grad=True)")
    assert "tensor([2.0480e+02, 2.0480e+03, 2.0480e-01])" in out
    assert "autograd-error (422) at /program/0: Only Tensors of floating point" in out


def test_numpy_in_and_out_exactly(live_url: str) -> None:
    x = np.array([[1.5, np.nan], [-np.inf, 2.0]], dtype=np.float32)
    with Client(live_url) as client:
        answer = client.run([
            {"name": "x", "op": "mul", "args": [tensor(x), 1]},
            {"name": "w", "op": "tensor", "args": [tensor([2.0, 3.0])], "attrs": {"requires_grad": True}},
            {"op": "backward", "args": [{"op": "sum", "args": [{"op": "mul", "args": ["w", "w"]}]}]},
            {"name": "i", "op": "add", "args": [tensor(np.arange(3)), 1]},
            {"name": "m", "op": "gt", "args": ["i", 1]},
        ])
    np.testing.assert_array_equal(answer.tensors["x"].value, x)
    assert answer.tensors["x"].value.dtype == np.float32
    w = answer.tensors["w"]
    assert w.requires_grad and w.is_leaf and w.grad is not None
    np.testing.assert_array_equal(w.grad, np.array([4.0, 6.0], dtype=np.float32))
    assert answer.tensors["i"].value.dtype == np.int64 and answer.tensors["i"].value.tolist() == [1, 2, 3]
    assert answer.tensors["m"].value.tolist() == [False, True, True]


@pytest.mark.anyio
async def test_async_client_and_problems(live_url: str) -> None:
    async with AsyncClient(live_url) as client:
        answer = await client.run(load(WHILE_PROGRAM)["program"], outputs=["step", "loss"])
        assert answer.tensors["step"].value.tolist() == 3
        assert answer.printed[0] == "tensor(0.2500, grad_fn=<SumBackward0>) tensor([3., 4.])"
        with pytest.raises(ProblemError) as caught:
            await client.run([{"name": "y", "op": "sum", "args": ["x"], "attrs": {"dims": 0}}])
    problem = caught.value
    assert problem.kind == "invalid-program" and problem.status == 422
    assert problem.pointer == "/program/0/attrs/dims"
    assert problem.location == ("program", 0, "attrs", "dims")
    assert "did you mean 'dim'?" in problem.detail and problem.errors


# ----- generated clients -------------------------------------------------------------------------
def _probe(generators_python: Path, tmp: Path, script: str, live_url: str) -> dict[str, Any]:
    (tmp / "probe.py").write_text(script)
    out = run([generators_python, "probe.py", live_url, TUTORIAL, WHILE_PROGRAM], cwd=tmp)
    return json.loads(out.splitlines()[-1])


def _check(answers: dict[str, Any], live_url: str) -> None:
    with Client(live_url) as client:
        tutorial = load(TUTORIAL)
        expected = client.run(tutorial["program"], seed=tutorial["seed"]).printed
    assert answers["tutorial"] == expected
    assert answers["loop"][0] == "tensor(0.2500, grad_fn=<SumBackward0>) tensor([3., 4.])"
    assert len(answers["loop"]) == 4


OPENAPI_PYTHON_CLIENT_PROBE = """
import json, sys
from gradserve_api import Client
from gradserve_api.api.run import run_v1_run_post
from gradserve_api.models import RunRequest, RunResponse

client = Client(base_url=sys.argv[1], timeout=60)
printed = {}
for key, path in (("tutorial", sys.argv[2]), ("loop", sys.argv[3])):
    body = RunRequest.from_dict(json.load(open(path)))
    answer = run_v1_run_post.sync(client=client, body=body)
    assert isinstance(answer, RunResponse), answer
    printed[key] = answer.printed
print(json.dumps(printed))
"""


def test_openapi_python_client(generators_python: Path, tmp_path: Path, live_url: str) -> None:
    config = tmp_path / "config.json"
    # literal_enums: py.operator's choices hold both "and" (Python's and) and "and_" (operator.and_,
    # bitwise), which the generator's Enum classes would both name AND; Literal types keep them apart
    config.write_text(json.dumps({"project_name_override": "gradserve-api",
                                  "package_name_override": "gradserve_api", "post_hooks": [],
                                  "literal_enums": True}))
    run([generators_python.parent / "openapi-python-client", "generate", "--path", CONTRACT,
         "--config", config, "--meta", "none", "--output-path", tmp_path / "gradserve_api"],
        cwd=tmp_path)
    run([generators_python, "-m", "compileall", "-q", "gradserve_api"], cwd=tmp_path)
    _check(_probe(generators_python, tmp_path, OPENAPI_PYTHON_CLIENT_PROBE, live_url), live_url)


DATAMODEL_PROBE = """
import json, sys
import httpx
from models import RunRequest, RunResponse

printed = {}
for key, path in (("tutorial", sys.argv[2]), ("loop", sys.argv[3])):
    body = RunRequest.model_validate(json.load(open(path)))
    # by_alias: "while", "if", "else" and "print" are Python keywords, so the fields are while_...
    r = httpx.post(sys.argv[1] + "/v1/run", content=body.model_dump_json(by_alias=True),
                   headers={"content-type": "application/json"}, timeout=60)
    assert r.status_code == 200, r.text
    printed[key] = RunResponse.model_validate_json(r.content).printed
print(json.dumps(printed))
"""


def test_datamodel_code_generator(generators_python: Path, tmp_path: Path, live_url: str) -> None:
    run([generators_python.parent / "datamodel-codegen", "--input", CONTRACT,
         "--input-file-type", "openapi", "--output-model-type", "pydantic_v2.BaseModel",
         "--formatters", "builtin", "--output", tmp_path / "models.py"], cwd=tmp_path)
    _check(_probe(generators_python, tmp_path, DATAMODEL_PROBE, live_url), live_url)


def test_an_optimisation_loop_reuses_one_program_with_inputs(live_url: str) -> None:
    """examples/clients/optimise_with_inputs.py: f and grad f at each point, one program sent
    unchanged; every answer after the first comes from the server's compile cache."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "optimise_with_inputs", ROOT / "examples" / "clients" / "optimise_with_inputs.py")
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    start = np.array([-1.2, 1.0])
    with Client(live_url) as client:
        f0, grad0, _ = example.f_and_grad(client, start)
        x, fx, calls, hits = example.minimise(client, start, steps=20)
    # Rosenbrock at (-1.2, 1): f = 24.2, grad = (-215.6, -88), as by hand
    assert f0 == pytest.approx(24.2) and grad0 == pytest.approx([-215.6, -88.0])
    assert fx < 5.0 and calls > 20
    assert hits == calls  # (the program was compiled by the first f_and_grad above)
    with Client(live_url) as client:  # a numpy array as an input, and an input's problem
        answer = client.run([{"name": "y", "op": "mul", "args": ["x", 2]}],
                            inputs={"x": np.arange(3)})
        assert answer.tensors["y"].value.tolist() == [0, 2, 4]
        with pytest.raises(ProblemError) as caught:
            client.run([{"name": "y", "op": "mul", "args": ["x", 2]}], inputs={"z": [1.0]})
        assert caught.value.pointer == "/inputs/z"
