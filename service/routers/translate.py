"""POST /v1/translate: PyTorch source to the JSON program it means, and a program to a torch
script that prints what gradserve prints."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from service import problems
from service.errors import ProgramError
from service.jsonbody import ProgramRoute, parse
from service.program import Statement
from service.responses import JSONResponse
from service.source.exporter import ExportError, export_program
from service.source.request import translate_request

router = APIRouter(tags=["translate"], route_class=ProgramRoute)


class TranslateRequest(BaseModel):
    """Exactly one of source (to get its program) and program (to get its torch script)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"source": "import torch\nx = torch.ones(2, requires_grad=True)\n(x * 3).sum().backward()"
                   "\nprint(x.grad)\n"},
        {"program": [{"name": "x", "op": "ones", "attrs": {"size": [2], "requires_grad": True}},
                     {"print": "x"}]},
    ]})

    source: str | None = Field(None, description="PyTorch code, as POST /v1/run takes it.")
    program: list[Statement] | None = Field(None, description="A program, as POST /v1/run "
                                            "takes it.")
    seed: StrictInt | None = Field(None, ge=0, le=2**64 - 1, description="With program: the "
                                   "script seeds torch's generator with it.")

    @model_validator(mode="after")
    def _one(self) -> TranslateRequest:
        if (self.source is None) == (self.program is None):
            raise ValueError("a request has exactly one of program and source")
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
    settings = request.app.state.settings
    if body.source is not None:
        translation, _ = translate_request(body.source, settings, request.app.state.translations)
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
