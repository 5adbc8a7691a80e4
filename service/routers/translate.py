"""POST /v1/translate: PyTorch source to the JSON program it means, and a program to a torch
script that prints what gradserve prints."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator

from service import problems
from service.compiler import compile_program
from service.deps import shared_of
from service.errors import ProgramError
from service.jsonbody import ProgramRoute, parse
from service.program import MAX_INPUTS, Name, Statement
from service.responses import JSONResponse
from service.source.exporter import ExportError, export_program
from service.source.request import about_source, translate_request

router = APIRouter(tags=["translate"], route_class=ProgramRoute)


class TranslateRequest(BaseModel):
    """Exactly one of source (to get its program) and program (to get its torch script)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"source": "import torch\nx = torch.ones(2, requires_grad=True)\n(x * 3).sum().backward()"
                   "\nprint(x.grad)\n"},
        {"program": [{"name": "x", "op": "ones", "attrs": {"size": [2], "requires_grad": True}},
                     {"print": "x"}]},
        {"source": "f = (x ** 2).sum()\nf.backward()\n", "inputs": ["x"]},
    ]})

    source: str | None = Field(None, description="PyTorch code, as POST /v1/run takes it.")
    program: list[Statement] | None = Field(None, description="A program, as POST /v1/run "
                                            "takes it.")
    seed: StrictInt | None = Field(None, ge=0, le=2**64 - 1, description="With program: the "
                                   "script seeds torch's generator with it.")
    inputs: list[Name] | None = Field(
        None, max_length=MAX_INPUTS, description="With source: the names POST /v1/run's inputs "
        "would give (their values are not needed here). The source reads them as tensors bound "
        "before its first line; each must be a name it reads and never assigns.")

    @field_validator("inputs")
    @classmethod
    def _distinct(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and len(set(v)) != len(v):
            twice = next(n for i, n in enumerate(v) if n in v[:i])
            raise ValueError(f"the name {twice!r} appears twice in inputs")
        return v

    @model_validator(mode="after")
    def _one(self) -> TranslateRequest:
        if (self.source is None) == (self.program is None):
            raise ValueError("a request has exactly one of program and source")
        if self.inputs is not None and self.source is None:
            raise ValueError("inputs go with source: they name what the source reads")
        return self


class TranslateResponse(BaseModel):
    """The other form: program for a source, source for a program."""

    program: list[Any] | None = Field(None, description="The program the source means.")
    source: str | None = Field(None, description="A torch script of the program.")
    seed: int | None = Field(None, description="The seed a torch.manual_seed(n) of the source "
                             "sets (send it as the request's seed).")
    detect_anomaly: bool | None = Field(None, description="True where the source turns on "
                                        "torch's anomaly detection.")


@router.post(
    "/v1/translate", response_model=TranslateResponse,
    responses=problems.responses(400, 413, 415, 422, 500),
    summary="Translate between PyTorch source and a program",
    description="With source: the JSON program POST /v1/run would run for it (problems about "
    "the source point at /source and carry a location). With program: a torch script that "
    "runs under PyTorch and prints what gradserve prints for the program.",
)
async def translate(body: TranslateRequest, request: Request) -> Any:
    shared = shared_of(request)
    settings = shared.settings
    if body.source is not None:
        inputs = frozenset(body.inputs or ())
        translation, program = translate_request(body.source, settings, shared.translations,
                                                 inputs)
        if body.inputs is not None:
            _check_inputs(body.inputs, program, translation, settings.max_nesting_depth)
        answer: dict[str, Any] = {"program": translation.program}
        if translation.seed is not None:
            answer["seed"] = translation.seed
        if translation.detect_anomaly:
            answer["detect_anomaly"] = True
        return JSONResponse(answer)
    # the program as sent (validated above): the exporter writes the JSON's own spellings
    document = parse(await request.body())
    try:
        return JSONResponse({"source": export_program(document["program"], body.seed)})
    except ExportError as exc:  # a program element with no torch spelling here
        raise ProgramError("invalid-program", f"cannot be written as torch: {exc}",
                           "/program") from None


def _check_inputs(inputs: list[str], program: list[Any], translation: Any, max_depth: int) -> None:
    """Each input names a name the translated program reads and never assigns, as POST /v1/run
    checks when it runs it (a name the source never reads, or assigns, is no input)."""
    try:
        compiled = compile_program(program, max_depth)
    except ProgramError as err:
        raise about_source(err, translation) from None
    for i, name in enumerate(inputs):
        if name not in compiled.free_names:
            raise compiled.not_an_input(name, f"/inputs/{i}", "source")
