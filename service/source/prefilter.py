"""What a source must pass before Python's parser sees it, and the decorations it may carry.

Python's parser is recursive: a 10,000-deep bracket nesting must never reach it. Length, line
count and bracket depth are measured here in one linear pass. Notebook cells and doctests paste as
they are: IPython magics and shell escapes (``%matplotlib inline``, ``!pip ...``) become blank
lines and the ``>>> ``/``... `` prompts are cut, so line numbers stay those of the text sent
(columns of a prompted line are shifted back by the prompt's width when a problem is located).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from service.errors import limit_exceeded
from service.source.locate import Span, source_error

_OPEN, _CLOSE = frozenset("([{"), frozenset(")]}")
_BRACKETS = re.compile(r"[()\[\]{}]")


@dataclass
class Prepared:
    text: str
    shifts: dict[int, int] = field(default_factory=dict)  # line -> columns cut from its start


def _limit(name: str, value: int, maximum: int, what: str, line: int | None = None
           ) -> Exception:
    err = limit_exceeded(name, value, maximum, what, "/source")
    if line is not None:
        err.extra["location"] = Span(line, 1, line, 1).as_dict()
    return err


def prepare(source: str, max_chars: int, max_lines: int, max_nesting: int) -> Prepared:
    if len(source) > max_chars:
        raise _limit("max_source_chars", len(source), max_chars,
                     f"the source has {len(source)} characters, over the limit of {max_chars}")
    if "\0" in source:
        at = source.count("\n", 0, source.index("\0")) + 1
        raise source_error("syntax-error", "source code cannot contain null bytes",
                           Span(at, 1, at, 1))
    lines = source.splitlines()
    if len(lines) > max_lines:
        raise _limit("max_source_lines", len(lines), max_lines,
                     f"the source has {len(lines)} lines, over the limit of {max_lines}")
    out: list[str] = []
    shifts: dict[int, int] = {}
    depth = 0
    # a doctest: the lines without a prompt are its expected output, not code
    doctest = any(line.startswith(">>>") for line in lines)
    for number, line in enumerate(lines, 1):
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            line = ""  # an IPython magic or shell escape: not Python, and not run
        elif line.startswith((">>> ", "... ")) or line in (">>>", "..."):
            shifts[number] = min(4, len(line))
            line = line[4:]
        elif doctest:
            line = ""
        for ch in _BRACKETS.findall(line):  # (in strings and comments too: an upper bound)
            if ch in _OPEN:
                depth += 1
                if depth > max_nesting:
                    raise _limit("max_source_nesting", depth, max_nesting,
                                 f"brackets nest more than {max_nesting} deep", number)
            elif ch in _CLOSE and depth:
                depth -= 1
        out.append(line)
    return Prepared("\n".join(out) + "\n", shifts)
