"""clients/typescript and openapi-typescript + openapi-fetch, on the committed contract: the types
are what the pinned generator makes of it (and dist/ what tsc makes of src/), tsc type-checks the
README's tutorial and programs with while, if, nested calls and prints with no casts, and the
compiled code runs them against a live server. The integer trap: tests/service/test_examples.py
runs examples/client.mjs, which sends JSON.stringify([2.0, 3.0]) both ways."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.clients.conftest import CONTRACT, TS_DIR, TUTORIAL, WHILE_PROGRAM, load, run

pytestmark = pytest.mark.timeout(900)

GENERATE = ["--default-non-nullable", "false"]  # what `npm run generate` passes (README says why)
TSCONFIG = {"compilerOptions": {"strict": True, "target": "es2022", "lib": ["es2022", "dom"],
                                "module": "nodenext", "moduleResolution": "nodenext",
                                "outDir": "out", "types": ["node"],
                                "skipLibCheck": False}}


def _bin(node_modules: Path, tool: str) -> Path:
    return node_modules / ".bin" / tool


def _project(tmp: Path, node_modules: Path, files: dict[str, str]) -> Path:
    """A throwaway ES-module project in ``tmp`` that sees the client's node_modules and the
    client itself as the package "gradserve-client"."""
    (tmp / "node_modules").mkdir()
    for entry in node_modules.iterdir():
        (tmp / "node_modules" / entry.name).symlink_to(entry)
    (tmp / "node_modules" / "gradserve-client").symlink_to(TS_DIR)
    (tmp / "package.json").write_text('{"type": "module"}\n')
    (tmp / "tsconfig.json").write_text(json.dumps({**TSCONFIG, "files": sorted(
        n for n in files if n.endswith(".ts"))}))
    for name, text in files.items():
        (tmp / name).write_text(text)
    return tmp


def test_committed_types_and_build_are_what_the_tools_make(node_modules: Path,
                                                           tmp_path: Path) -> None:
    schema = tmp_path / "schema.d.ts"
    run([_bin(node_modules, "openapi-typescript"), CONTRACT, *GENERATE, "-o", schema], cwd=TS_DIR)
    assert schema.read_text() == (TS_DIR / "generated" / "schema.d.ts").read_text(), \
        "clients/typescript/generated/schema.d.ts is stale: run `npm run generate` there"
    out = tmp_path / "dist"
    run([_bin(node_modules, "tsc"), "-p", "tsconfig.json", "--outDir", out], cwd=TS_DIR)
    for name in ("index.js", "index.d.ts"):
        assert (out / name).read_text() == (TS_DIR / "dist" / name).read_text(), \
            f"clients/typescript/dist/{name} is stale: run `npm run build` there"


def test_readme_example_runs_the_seed_tutorial(node_modules: Path, tmp_path: Path,
                                               live_url: str) -> None:
    readme = (TS_DIR / "README.md").read_text()
    (example,) = re.findall(r"```ts\n(.*?)```", readme, flags=re.S)
    project = _project(tmp_path, node_modules, {"tutorial.ts": example})
    run([_bin(node_modules, "tsc"), "-p", "tsconfig.json"], cwd=project)
    out = run(["node", "out/tutorial.js"], cwd=project, env={"GRADSERVE_URL": live_url})
    tutorial = _printed(live_url)
    assert out.startswith("\n".join(tutorial[:4]))
    assert "tensor([2.0480e+02, 2.0480e+03, 2.0480e-01])" in out
    assert "w requires grad: true" in out
    assert 'problem at ["program",0]: Only Tensors of floating point' in out


def _printed(live_url: str) -> list[str]:
    r = httpx.post(f"{live_url}/v1/run", json=load(TUTORIAL), timeout=60)
    assert r.status_code == 200, r.text
    return r.json()["printed"]


PROBE = """import createClient from "openapi-fetch";
import type { paths } from "./schema.js";

const client = createClient<paths>({ baseUrl: process.env.GRADSERVE_URL });
const tutorial = await client.POST("/v1/run", { body: %(tutorial)s });
const loop = await client.POST("/v1/run", { body: %(loop)s });
const bad = await client.POST("/v1/run", {
  body: { program: [{ name: "w", op: "tensor", args: [[2, 3]], attrs: { requires_grad: true } }] },
});
if (!tutorial.data || !loop.data || !bad.error) {
  throw new Error(`unexpected: ${JSON.stringify([tutorial.error, loop.error, bad.data])}`);
}
console.log(JSON.stringify({ tutorial: tutorial.data.printed, loop: loop.data.printed,
                             pointer: bad.error.pointer, step: loop.data.tensors["step"]?.data }));
"""

# a program the types must refuse: size is a list of integers
WRONG = """import createClient from "openapi-fetch";
import type { paths } from "./schema.js";
const client = createClient<paths>({ baseUrl: "http://127.0.0.1:8000" });
await client.POST("/v1/run", { body: { program: [{ name: "x", op: "ones", attrs: { size: "2" } }] } });
"""


def test_openapi_typescript_and_openapi_fetch(node_modules: Path, tmp_path: Path,
                                              live_url: str) -> None:
    """openapi-typescript's types with openapi-fetch: valid programs (literals written inline)
    compile with no casts and run; a wrong one does not compile (the types are not ``any``)."""
    probe = PROBE % {"tutorial": json.dumps(load(TUTORIAL)),
                     "loop": json.dumps(load(WHILE_PROGRAM))}
    project = _project(tmp_path, node_modules, {"probe.ts": probe})
    run([_bin(node_modules, "openapi-typescript"), CONTRACT, *GENERATE, "-o",
         project / "schema.d.ts"], cwd=project)
    run([_bin(node_modules, "tsc"), "-p", "tsconfig.json"], cwd=project)
    answer = json.loads(run(["node", "out/probe.js"], cwd=project,
                            env={"GRADSERVE_URL": live_url}))
    assert answer["tutorial"] == _printed(live_url)
    assert answer["loop"][0] == "tensor(0.2500, grad_fn=<SumBackward0>) tensor([3., 4.])"
    assert answer["step"] == [3] and answer["pointer"] == "/program/0"

    (project / "probe.ts").write_text(WRONG)
    proc = subprocess.run([str(_bin(node_modules, "tsc")), "-p", "tsconfig.json"], cwd=project,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode != 0 and "probe.ts(4," in proc.stdout, proc.stdout[-2000:]
