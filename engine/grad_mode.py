"""Grad mode, held per execution context.

The flag lives in a :class:`contextvars.ContextVar`, so each thread and each asyncio task sees its
own value: two requests running at once never see each other's ``no_grad``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar

_enabled: ContextVar[bool] = ContextVar("gradserve_grad_enabled", default=True)

is_grad_enabled = _enabled.get


@contextmanager
def set_grad_enabled(mode: bool) -> Iterator[None]:
    token = _enabled.set(bool(mode))
    try:
        yield
    finally:
        _enabled.reset(token)


def no_grad() -> AbstractContextManager[None]:
    """Results computed inside do not require grad (torch.no_grad)."""
    return set_grad_enabled(False)


def enable_grad() -> AbstractContextManager[None]:
    """Re-enable recording inside a no_grad block (torch.enable_grad)."""
    return set_grad_enabled(True)
