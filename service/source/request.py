"""A ``source`` request made into the ``program`` request it means (for POST /v1/run and
/v1/translate), and the program's problems made into problems about the source."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError

from service.errors import ProgramError
from service.pointer import from_loc
from service.program import RunRequest, Statement, note
from service.settings import Settings
from service.source.cache import TranslationCache
from service.source.locate import relocate
from service.source.translator import Limits, Translation, translate

_PROGRAM = TypeAdapter(list[Statement])


def limits(settings: Settings) -> Limits:
    return Limits(settings.max_source_chars, settings.max_source_lines,
                  settings.max_source_nesting, settings.max_source_nodes,
                  settings.max_inlined_nodes)


def translate_request(source: str, settings: Settings, cache: TranslationCache | None = None,
                      inputs: frozenset[str] = frozenset()) -> tuple[Translation, list[Any]]:
    """The translation (with ``inputs`` bound before the source runs) and its program validated
    as the JSON form is (ProgramError about the source otherwise); from ``cache`` when it holds
    them."""
    key = (source, inputs)
    hit = cache.get(key) if cache is not None else None
    if hit is not None:
        return hit
    translation = translate(source, limits(settings), inputs)
    try:
        program = _PROGRAM.validate_python(translation.program)
    except ValidationError as exc:
        first = exc.errors()[0]
        err = ProgramError("invalid-program", f"{first['msg']}",
                           "/program" + from_loc(first["loc"], translation.program))
        raise relocate(err, translation.program, translation.nodes, translation.shifts) from None
    if cache is not None:
        cache.put(key, (translation, program))
    return translation, program


def program_request(body: RunRequest, settings: Settings, cache: TranslationCache | None = None
                    ) -> tuple[RunRequest, Translation]:
    """``body`` with its source replaced by the program it means."""
    assert body.source is not None
    inputs = frozenset(body.inputs or ())
    translation, program = translate_request(body.source, settings, cache, inputs)
    request = body.model_copy(update={
        "program": program, "source": None,
        "detect_anomaly": body.detect_anomaly or translation.detect_anomaly,
        "seed": body.seed if body.seed is not None else translation.seed,
    })
    note(request, "hidden_names", translation.hidden)
    return request, translation


def about_source(err: ProgramError, translation: Translation) -> ProgramError:
    return relocate(err, translation.program, translation.nodes, translation.shifts)
