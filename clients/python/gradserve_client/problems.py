"""gradserve's RFC 9457 problems as one exception type."""

from __future__ import annotations

from typing import Any


class ProblemError(Exception):
    """A problem answer: ``kind`` (the last part of ``type``: ``invalid-program``,
    ``autograd-error``, ...), ``status``, ``detail``, ``pointer`` (a JSON Pointer into the request,
    or None), ``location`` (the same as a tuple of keys and indexes), ``errors`` (every schema
    error, for ``invalid-program``), ``printed`` (what the program printed before it failed) and
    the whole ``body``."""

    def __init__(self, body: dict[str, Any], status: int) -> None:
        self.body = body
        self.status = status
        self.type: str = body.get("type", "")
        self.kind = self.type.rsplit("/", 1)[-1]
        self.title: str = body.get("title", "")
        self.detail: str = body.get("detail", "")
        self.pointer: str | None = body.get("pointer")
        self.errors: list[dict[str, str]] = body.get("errors") or []
        self.printed: list[str] = body.get("printed") or []
        where = f" at {self.pointer}" if self.pointer else ""
        super().__init__(f"{self.kind} ({status}){where}: {self.detail}")

    @property
    def location(self) -> tuple[str | int, ...]:
        """``pointer`` as path parts: "/program/1/args/0" -> ("program", 1, "args", 0)."""
        if not self.pointer:
            return ()
        parts = (p.replace("~1", "/").replace("~0", "~") for p in self.pointer.split("/")[1:])
        return tuple(int(p) if p.isdigit() else p for p in parts)
