"""Grad mode, held per execution context.

The flag lives in a :class:`contextvars.ContextVar`, so each thread and each asyncio task sees its
own value: two requests running at once never see each other's ``no_grad``.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from contextvars import ContextVar

_enabled: ContextVar[bool] = ContextVar("gradserve_grad_enabled", default=True)

is_grad_enabled = _enabled.get


class set_grad_enabled:  # noqa: N801 (torch's name)
    """Within the block, grad mode is ``mode`` (set on entering, restored on leaving).

    A class, not a ``@contextmanager`` generator: every run enters it (the interpreter's run, each
    backward pass, every ``no_grad`` block), and a generator's context manager costs an object
    with a frame, its generator and two resumptions each time (~3 k instructions more)."""

    __slots__ = ("_mode", "_token")

    def __init__(self, mode: bool) -> None:
        self._mode = bool(mode)

    def __enter__(self) -> None:
        self._token = _enabled.set(self._mode)

    def __exit__(self, *exc: object) -> None:
        _enabled.reset(self._token)


def no_grad() -> AbstractContextManager[None]:
    """Results computed inside do not require grad (torch.no_grad)."""
    return set_grad_enabled(False)


def enable_grad() -> AbstractContextManager[None]:
    """Re-enable recording inside a no_grad block (torch.enable_grad)."""
    return set_grad_enabled(True)
