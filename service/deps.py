"""What the routes take from the app, as typed dependencies: the settings, the program runner and
the clock that deadlines are measured on.

A route names one by its type (``settings: SettingsDep``); FastAPI calls the ``get_*`` function
for each request. service/app.py keeps the settings and the runner on ``app.state``; a test
replaces any of them through ``app.dependency_overrides[get_clock] = ...`` rather than reaching
into the app's state. (The functions are ``async``: FastAPI runs a plain ``def`` dependency in a
thread.)
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, Request

from service.executor import Runner
from service.interpreter import Clock
from service.settings import Settings


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_runner(request: Request) -> Runner:
    runner: Runner = request.app.state.runner
    return runner


async def get_clock() -> Clock:
    return time.monotonic


SettingsDep = Annotated[Settings, Depends(get_settings)]
RunnerDep = Annotated[Runner, Depends(get_runner)]
ClockDep = Annotated[Clock, Depends(get_clock)]
