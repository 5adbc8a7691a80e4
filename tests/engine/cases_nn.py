"""Gradient-check cases for the nn ops (same spelling as op_cases.py, merged into it)."""

from __future__ import annotations

from tests.engine.op_cases import C, Case  # noqa: F401

CASES: dict[str, list[Case]] = {}
NONDIFF: dict[str, list[Case]] = {}
