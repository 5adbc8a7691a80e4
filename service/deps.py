"""What the routes take from the app: the settings, the program runner and the clock that
deadlines are measured on, all kept on ``app.state`` by service/app.py (``create_app(clock=...,
runner=...)`` is where a test puts its own).

A plain route names one by its type (``settings: SettingsDep``) and FastAPI calls the ``get_*``
function for it. The program routes (service/jsonbody.py's ProgramRoute) skip FastAPI's
per-request dependency solving and read them with the same functions' plain forms
(:func:`settings_of`, :func:`runner_of`, :func:`clock_of`). (The ``get_*`` functions are
``async``: FastAPI runs a plain ``def`` dependency in a thread.)
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from service.executor import Runner
from service.interpreter import Clock
from service.settings import Settings


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def runner_of(request: Request) -> Runner:
    runner: Runner = request.app.state.runner
    return runner


def clock_of(request: Request) -> Clock:
    """The clock every deadline and budget of a request is on (time.monotonic unless a test
    holds it): the route's deadline, the admission queue's, the interpreter's and the
    engine's."""
    clock: Clock = request.app.state.clock
    return clock


async def get_settings(request: Request) -> Settings:
    return settings_of(request)


async def get_runner(request: Request) -> Runner:
    return runner_of(request)


SettingsDep = Annotated[Settings, Depends(get_settings)]
RunnerDep = Annotated[Runner, Depends(get_runner)]
