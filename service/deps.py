"""What the routes take from the app: the settings, the program runner and the clock that
deadlines are measured on, and the compile and translation caches, all made by service/app.py
(``create_app(clock=..., runner=...)`` is where a test puts its own) and kept as the app's
:class:`Shared` (``app.shared``), their one holder.

A plain route names one by its type (``settings: SettingsDep``) and FastAPI calls the ``get_*``
function for it. The program routes (service/jsonbody.py's ProgramRoute) skip FastAPI's
per-request dependency solving and read them from :func:`shared_of` (or :func:`settings_of`,
:func:`runner_of`). (The ``get_*`` functions are ``async``: FastAPI runs a plain ``def``
dependency in a thread.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from service.compile_cache import CompileCache
from service.executor import Runner
from service.interpreter import Clock
from service.settings import Settings
from service.source.cache import TranslationCache


@dataclass(frozen=True, slots=True)
class Shared:
    """The parts of the app its routes read on every request, as plain attributes: the app
    keeps this as ``app.shared`` (service/fastpath.py's App), not on ``app.state``: each read of
    a member of that first fails the normal attribute lookup (Starlette's State keeps them in a
    dict of its own, read by __getattr__), and the AttributeError made and formatted for it
    costs some 5,000 instructions, which a cached /v1/run request paid six times."""

    settings: Settings
    runner: Runner
    # the clock every deadline and budget of a request is on (time.monotonic unless a test
    # holds it): the route's deadline, the admission queue's, the interpreter's and the engine's
    clock: Clock
    programs: CompileCache
    translations: TranslationCache


def shared_of(request: Request) -> Shared:
    shared: Shared = request.app.shared
    return shared


def settings_of(request: Request) -> Settings:
    return shared_of(request).settings


def runner_of(request: Request) -> Runner:
    return shared_of(request).runner


async def get_settings(request: Request) -> Settings:
    return settings_of(request)


async def get_runner(request: Request) -> Runner:
    return runner_of(request)


SettingsDep = Annotated[Settings, Depends(get_settings)]
RunnerDep = Annotated[Runner, Depends(get_runner)]
