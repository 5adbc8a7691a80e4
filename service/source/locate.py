"""Source spans: where in the source each emitted statement and call came from.

The translator records the ast node behind every dict it emits (by the dict's identity, so that
building the program costs no pointer bookkeeping). Only when a problem has to be reported is the
program walked along the problem's pointer, and the deepest dict on that path with a node gives
the location.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from service.errors import ProgramError


@dataclass(frozen=True, slots=True)
class Span:
    """A 1-based, inclusive-start span: (line, column) to (end_line, end_column)."""

    line: int
    column: int
    end_line: int
    end_column: int

    @classmethod
    def of(cls, node: ast.AST, shifts: dict[int, int] | None = None) -> Span:
        line = getattr(node, "lineno", 1)
        end_line = getattr(node, "end_lineno", None) or line
        col = getattr(node, "col_offset", 0)
        end_col = getattr(node, "end_col_offset", None)
        if end_col is None:
            end_col = col
        shifts = shifts or {}
        return cls(line, col + 1 + shifts.get(line, 0), end_line,
                   end_col + 1 + shifts.get(end_line, 0))

    def as_dict(self) -> dict[str, int]:
        return {"line": self.line, "column": self.column, "end_line": self.end_line,
                "end_column": self.end_column}


def source_error(kind: str, message: str, span: Span | None, **extra: Any) -> ProgramError:
    """A problem about the source: pointer /source, and the location when known."""
    if span is not None:
        extra["location"] = span.as_dict()
        if f"(line {span.line})" not in message:
            message = f"{message} (line {span.line})"
    return ProgramError(kind, message, "/source", **extra)


def _parts(pointer: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]


def span_at(program: list[Any], pointer: str | None, nodes: dict[int, ast.AST],
            shifts: dict[int, int]) -> Span | None:
    """The span of the deepest emitted element on ``pointer``'s path (``/program/3/args/0``)."""
    if not pointer:
        return None
    parts = _parts(pointer)
    if parts[:1] == ["program"]:
        parts = parts[1:]
    node: Any = program
    found: ast.AST | None = None
    for part in parts:
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            break
        found = nodes.get(id(node), found)
    return None if found is None else Span.of(found, shifts)


def relocate(err: ProgramError, program: list[Any], nodes: dict[int, ast.AST],
             shifts: dict[int, int]) -> ProgramError:
    """``err`` (pointing into the translated program) as a problem about the source."""
    if err.pointer == "/source" or (err.pointer or "").startswith("/inputs"):
        return err  # (a problem of an input is about the inputs, not the source)
    span = span_at(program, err.pointer, nodes, shifts)
    err.extra.setdefault("program_pointer", err.pointer)
    err.pointer = "/source"
    if span is not None:
        err.extra["location"] = span.as_dict()
        if f"(line {span.line})" not in err.message:
            err.message = f"{err.message} (line {span.line})"
    return err
