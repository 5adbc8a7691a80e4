"""service/routers/{ops,info,health}.py: the catalog (generated from the registry), info and
health."""

from __future__ import annotations

import tomllib

import httpx
import pytest

import engine as ge
from engine.registry import canonical_ops
from service import __version__
from service.catalog import Catalog
from service.signatures import SIGNATURES
from tests.service.helpers import ROOT, TEST_SETTINGS

pytestmark = pytest.mark.anyio


async def test_catalog_is_the_registry(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/ops")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    catalog = r.json()
    Catalog.model_validate(catalog)
    by_name = {op["name"]: op for op in catalog["ops"]}
    assert list(by_name) == list(SIGNATURES)
    for op in canonical_ops():
        entry = by_name[op.name]
        assert entry["source"] == "engine" and entry["doc"] == op.doc
        assert entry["differentiable"] == op.differentiable
        assert entry["grad_fns"] == [g for g in op.grad_fns if g]
        assert [i["name"] for i in entry["inputs"]] == [p.name for p in op.inputs]
        assert [(a["name"], a["kind"], a["required"]) for a in entry["attrs"]] == \
            [(p.name, p.kind, p.required) for p in op.attrs]
        for alias in op.aliases:
            assert by_name[alias]["alias_of"] == op.name


async def test_catalog_details(client: httpx.AsyncClient) -> None:
    by_name = {op["name"]: op for op in (await client.get("/v1/ops")).json()["ops"]}
    div = by_name["div"]
    mode = next(a for a in div["attrs"] if a["name"] == "rounding_mode")
    assert mode["choices"] == ["trunc", "floor"] and mode["default"] is None and mode["nullable"]
    assert by_name["add"]["grad_fns"] == ["AddBackward0"]
    assert by_name["backward"]["source"] == "service"
    assert by_name["autograd.grad"]["returns"] == "tuple"
    assert by_name["grad_fn"]["category"] == "accessor"


async def test_info(client: httpx.AsyncClient) -> None:
    info = (await client.get("/v1/info")).json()
    assert info["version"] == __version__ and info["torch_semantics"] == "2.13"
    assert info["backend"] == ge.BACKEND and info["device"] == ge.DEVICE
    assert info["limits"] == TEST_SETTINGS.limits()


def test_version_matches_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["version"] == __version__
    assert project["scripts"]["gradserve"] == "service.__main__:main"


async def test_health(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health/live")).json() == {"status": "ok"}
    ready = (await client.get("/health/ready")).json()
    assert ready["status"] == "ready"
    assert ready["capacity"] == TEST_SETTINGS.worker_threads + TEST_SETTINGS.queue_size
