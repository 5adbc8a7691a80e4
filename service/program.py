"""The request and response models of ``POST /v1/run`` (pydantic v2): the typed program format.

A program is a list of statements run in order. Statements and arguments are discriminated unions;
every call is a member of one union tagged by ``op`` whose members are generated from
:data:`service.signatures.SIGNATURES` (the engine registry plus the service's builtins), so an op's
attrs are validated against its registry signature -- kinds, defaults, choices, required, nothing
unknown -- and the OpenAPI document lists every op with its attrs.

Union tags that pydantic puts into error locations are CamelCase (``Call``, ``While``) or op names,
never one of the request's own keys, so ``service.pointer.from_loc`` can skip them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    FailFast,
    Field,
    PrivateAttr,
    StrictBool,
    StrictInt,
    StringConstraints,
    Tag,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    create_model,
    field_validator,
    model_validator,
)
from typing_extensions import TypeAliasType

from engine.registry import Param
from service.encoding import (
    NONFINITE,
    Base64Text,
    Datatype,
    Encoding,
    EncodingError,
    check_payload,
)
from service.param_kinds import PARAM_KINDS
from service.scalars import SEED_MAX, SHAPE_MAX, Float, Int64, Name, NonFinite, Number, Token
from service.signatures import SIGNATURES, Signature

_FORBID = ConfigDict(extra="forbid")
# The models that live only inside a program: calls and statements. Each holds the recursive
# grammar (an argument may be any call, a block any statement), so building one alone builds all
# ~220 call models again; they wait instead, and RunRequest's build makes the whole grammar once
# (a worker's import: 2.3 s of CPU -> 1.2 s measured). Nothing validates or dumps them on their
# own: a call's attrs (dumped by the compiler) and a slice are built at import as before.
_IN_PROGRAM = ConfigDict(extra="forbid", defer_build=True)

# Every list of a program stops validating at its first invalid item: the answer names one error,
# and a body of 300,000 bad statements must not make 300,000 error objects (a few KiB each).
if TYPE_CHECKING:
    Statements = list[Any]
    OptionalStatements = list[Any] | None
else:
    Statements = Annotated[list["Statement"], FailFast()]
    # (a request's program: None only as its default, when the request sends source instead)
    OptionalStatements = Statements


# ----- attrs: each param kind's request type (service/param_kinds.py) ---------------------------
def _attr_type(p: Param) -> Any:
    t: Any = Literal[p.choices] if p.kind == "choice" else PARAM_KINDS[p.kind].request
    if p.choices and p.kind != "choice":  # named values beside the kind: norm's "fro", conv's "same"
        t = t | Literal[p.choices]
    if p.optional:
        t = t | None
    return t


class NoAttrs(BaseModel):
    """An op without static parameters: attrs is empty (or absent)."""

    model_config = _FORBID


def _attrs_model(sig: Signature, safe: str) -> type[BaseModel]:
    if not sig.attrs:
        return NoAttrs
    fields: dict[str, Any] = {
        p.name: (_attr_type(p), Field(... if p.required else p.default, description=p.doc or None))
        for p in sig.attrs
    }
    return create_model(f"Attrs_{safe}", __config__=_FORBID, __doc__=f"The attrs of {sig.name}.",
                        **fields)


# ----- calls ------------------------------------------------------------------------------------
Target: Any = TypeAliasType(
    "Target",
    Annotated[
        Name | list[Name | list[Name]],
        Field(description="A name, or a list of names to unpack a tuple into; an inner list "
              "unpacks a tuple inside it (a Hessian's tuple of tuples)."),
    ],
)


class CallBase(BaseModel):
    """A call of an engine op or a builtin: inputs in ``args``, static parameters in ``attrs``."""

    model_config = _IN_PROGRAM

    op: str
    args: list[Any]
    attrs: BaseModel
    name: Target | None = Field(
        None, description="On a statement only: bind the result to a name, or unpack a tuple "
        "result into a list of names.")


_CALL_KEYS = frozenset(CallBase.model_fields)


def _shared(instance: BaseModel) -> Any:
    return lambda: instance


def _or_instance(instance: BaseModel) -> Any:
    return lambda v: instance if v is None else v


def _or_empty(v: list[Any] | None) -> list[Any]:
    return [] if v is None else v


def model_suffix(op: str) -> str:
    """The op's part of its models' names (``Call_<suffix>``, ``Attrs_<suffix>``): a name code
    generators turn into a distinct class name. ``autograd.grad`` -> ``autograd_grad``; torch's
    in-place spelling ``requires_grad_`` -> ``requires_grad_inplace`` (generators drop a trailing
    underscore, which would make it ``requires_grad``'s twin)."""
    safe = op.replace(".", "_")
    return f"{safe[:-1]}_inplace" if safe.endswith("_") else safe


def _call_model(sig: Signature) -> type[CallBase]:
    if sig.name in _CALL_KEYS:
        raise ValueError(f"op {sig.name!r} clashes with a key of the call object")
    safe = model_suffix(sig.name)
    attrs = _attrs_model(sig, safe)
    n_in, n_req = len(sig.inputs), sig.min_args
    empty = attrs.model_construct()
    inputs_doc = ", ".join(i.name if i.required else f"[{i.name}]" for i in sig.inputs)
    fields: dict[str, Any] = {
        "op": (Literal[sig.name], ...),
        # "Arg" is defined below, from these models; pydantic resolves it when first used.
        "args": (Annotated[list["Arg"], FailFast()],
                 Field(... if n_req else [], min_length=n_req, max_length=n_in,
                       description=f"Inputs in order: {inputs_doc or 'none'}.")),
        # without attrs: one shared instance with nothing set (never changed; compile reads only
        # the attrs set), rather than validating an empty model for every call
        # optional attrs may also be null, read as absent: what generated clients send for an
        # optional member nobody set (datamodel-code-generator's plain model_dump_json)
        "attrs": (attrs, Field(...)) if any(p.required for p in sig.attrs)
        else (Annotated[attrs | None, AfterValidator(_or_instance(empty))],
              Field(default_factory=_shared(empty))),
    }
    return create_model(f"Call_{safe}", __base__=CallBase, __doc__=sig.doc, __module__=__name__,
                        **fields)


CALL_MODELS: dict[str, type[CallBase]] = {name: _call_model(sig) for name, sig in SIGNATURES.items()}

if TYPE_CHECKING:
    Call = CallBase
else:
    # One union member per op, tagged by "op" (the OpenAPI document gets a discriminator mapping).
    Call = TypeAliasType(
        "Call", Annotated[Union[tuple(CALL_MODELS.values())], Field(discriminator="op")])  # noqa: UP007


# ----- tensor objects ----------------------------------------------------------------------------
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _plain_values(v: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
    """A tensor object's ``data``, which may hold a million values. The element-by-element
    validation costs about 65 ns a value; a list of only floats, only bools, or ints in the int64
    range (mixed with floats or not) is what it would return unchanged, so such a list is checked
    by its set of types instead (and by min/max when it holds ints). Anything else -- a token, a
    string, an int outside int64 -- gets the element-by-element validation and its precise
    errors. The datatype's own check (check_payload) follows, with the types found here."""
    if type(v) is list:
        types = set(map(type, v))
        if types == _BOOL or types <= _NUMBERS and (
                int not in types or min(v) >= _INT64_MIN and max(v) <= _INT64_MAX):
            _check_payload(info, v, None, types)
            return v
    v = handler(v)
    if v is not None:
        _check_payload(info, v, None)
    return v


_NUMBERS, _BOOL = frozenset({float, int}), frozenset({bool})


def _check_payload(info: ValidationInfo, data: Any, b64: Any, types: set[type] | None = None
                   ) -> None:
    """check_payload for the tensor object being validated, once its shape and datatype are."""
    shape, datatype = info.data.get("shape"), info.data.get("datatype")
    if shape is not None and datatype is not None:
        try:
            check_payload(shape, datatype, data, b64, types)
        except EncodingError as exc:
            raise ValueError(exc.message) from None


class TensorObject(BaseModel):
    """A tensor in the Open Inference Protocol's form: ``data`` flat and row-major (non-finite
    floats as "NaN", "Infinity", "-Infinity"), or ``b64``: the little-endian bytes in base64 (BOOL
    one byte each)."""

    model_config = _FORBID

    shape: list[Annotated[StrictInt, Field(ge=0, le=SHAPE_MAX)]] = Field(max_length=32)
    datatype: Datatype
    data: Annotated[list[StrictBool | Int64 | Float | Token] | None,
                    WrapValidator(_plain_values)] = Field(None, fail_fast=True)
    b64: str | None = None

    @field_validator("b64", mode="wrap")
    @classmethod
    def _fits_shape(cls, v: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
                    ) -> Any:
        if type(v) is not Base64Text:  # (a long text /v1/run's route read: service/base64_lift.py)
            v = handler(v)
        if v is not None:
            _check_payload(info, None, v)
        return v

    @model_validator(mode="after")
    def _one_payload(self) -> TensorObject:
        if (self.data is None) == (self.b64 is None):
            raise ValueError("a tensor object has exactly one of data and b64")
        return self


# ----- arguments --------------------------------------------------------------------------------
if TYPE_CHECKING:
    ArrayLiteral = list[Any]
else:
    ArrayLiteral = TypeAliasType(
        "ArrayLiteral",
        # (null: an absent gradient in a list of them, grad_outputs=[null, g]; a tensor literal
        # refuses it when decoded, at its place)
        Annotated[list[Union[StrictBool, Int64, Float, Token, Name, None, "ArrayLiteral"]],
                  FailFast()])

_ARG_ERROR = (
    "an argument is a number, a boolean, a name, an array literal, null, a call object (with "
    '"op") or a tensor object (with "shape", "datatype" and "data" or "b64")'
)
_TENSOR_KEYS = frozenset(TensorObject.model_fields)


# The tag of each JSON type (pydantic calls _arg_tag for every argument: exact types first, cheap)
_SCALAR_TAGS: dict[type, str] = {bool: "Number", int: "Number", float: "Number", list: "Array",
                                 type(None): "Null"}


def _arg_tag(v: Any) -> str | None:
    tag = _SCALAR_TAGS.get(type(v))
    if tag is not None:
        return tag
    if isinstance(v, str):
        return "NonFinite" if v in NONFINITE else "Name"
    if isinstance(v, dict):
        if "op" in v:
            return "Call"
        return "TensorObject" if _TENSOR_KEYS & v.keys() else None
    # subclasses of the JSON types, and models (an object validated once already)
    if isinstance(v, (bool, int, float)):
        return "Number"
    if isinstance(v, list):
        return "Array"
    if isinstance(v, CallBase):
        return "Call"
    return "TensorObject" if isinstance(v, TensorObject) else None


if TYPE_CHECKING:
    Arg = Any
else:
    Arg = TypeAliasType(
        "Arg",
        Annotated[
            Annotated[Number, Tag("Number")]
            | Annotated[NonFinite, Tag("NonFinite")]
            | Annotated[Name, Tag("Name")]
            | Annotated[ArrayLiteral, Tag("Array")]
            | Annotated[None, Tag("Null")]
            | Annotated[Call, Tag("Call")]
            | Annotated[TensorObject, Tag("TensorObject")],
            Discriminator(_arg_tag, custom_error_type="invalid_argument",
                          custom_error_message=_ARG_ERROR),
        ],
    )


# ----- inputs -----------------------------------------------------------------------------------
MAX_INPUTS = 1024


class InputTensor(TensorObject):
    """An input as a tensor object, optionally a leaf that requires grad (what
    ``torch.tensor(..., requires_grad=True)`` makes)."""

    requires_grad: StrictBool = Field(
        False, description="Make the input a leaf that requires grad (floating datatypes only).")


if TYPE_CHECKING:
    InputLiteral = list[Any]
else:
    # an array literal of numbers only (a name inside one would read the program's names)
    InputLiteral = TypeAliasType(
        "InputLiteral",
        Annotated[list[Union[StrictBool, Int64, Float, Token, "InputLiteral"]], FailFast()])


def _input_tag(v: Any) -> str | None:
    if isinstance(v, list):
        return "Array"
    return "TensorObject" if isinstance(v, (dict, InputTensor)) else None


if TYPE_CHECKING:
    InputValue = Any
else:
    InputValue = TypeAliasType(
        "InputValue",
        Annotated[
            Annotated[InputLiteral, Tag("Array")] | Annotated[InputTensor, Tag("TensorObject")],
            Discriminator(_input_tag, custom_error_type="invalid_input",
                          custom_error_message="an input is an array literal of numbers or a "
                          'tensor object (with "shape", "datatype" and "data" or "b64")'),
        ],
    )


# ----- statements -------------------------------------------------------------------------------
class PrintValues(BaseModel):
    """Several values printed on one line, separated by spaces (``print(z, out)``); ``sep`` and
    ``end`` as Python's print has them (the printed entry drops one final newline)."""

    model_config = _IN_PROGRAM
    values: Annotated[list[Arg], FailFast()]
    sep: Annotated[str, StringConstraints(max_length=256)] = " "
    end: Annotated[str, StringConstraints(max_length=256)] = "\n"


def _print_tag(v: Any) -> str:
    return "PrintValues" if isinstance(v, PrintValues) or (isinstance(v, dict) and "values" in v) \
        else "Arg"


class PrintStatement(BaseModel):
    """Print a value as Python's print would show it (tensors in torch's own text)."""

    model_config = _IN_PROGRAM
    value: Annotated[
        Annotated[PrintValues, Tag("PrintValues")] | Annotated[Arg, Tag("Arg")],
        Discriminator(_print_tag),
    ] = Field(alias="print")


class WhileStatement(BaseModel):
    """Run ``do`` while the condition is true (a bool or a one-element tensor)."""

    model_config = _IN_PROGRAM
    cond: Arg = Field(alias="while")
    body: Statements = Field(alias="do")
    max_iter: StrictInt | None = Field(
        None, ge=1, description="Fail after this many iterations (the server's "
        "max_loop_iterations applies as well).")


class IfStatement(BaseModel):
    """Run ``then`` if the condition is true, else ``else``."""

    model_config = _IN_PROGRAM
    cond: Arg = Field(alias="if")
    then: Statements
    orelse: Annotated[list[Statement] | None, AfterValidator(_or_empty)] = Field(
        default_factory=list, alias="else", fail_fast=True,
        description="Run when the condition is false (null: nothing).")


class NoGradStatement(BaseModel):
    """Run the block with gradient recording off (``with torch.no_grad():``)."""

    model_config = _IN_PROGRAM
    body: Statements = Field(alias="no_grad")


class EnableGradStatement(BaseModel):
    """Run the block with gradient recording on (``with torch.enable_grad():``)."""

    model_config = _IN_PROGRAM
    body: Statements = Field(alias="enable_grad")


_Index: Any = PARAM_KINDS["index"].request


class SetItemStatement(BaseModel):
    """Assign into a tensor in place (``target[index] = value``): [target, index, value]. The index
    is anything getitem takes as its index; the value a tensor or a number, broadcast to the
    indexed part. Every name bound to the tensor (or a view of it) sees the change."""

    model_config = _IN_PROGRAM
    item: tuple[Arg, _Index, Arg] = Field(alias="setitem")


class SetGradStatement(BaseModel):
    """Assign a tensor's ``.grad`` (``target.grad = value``): [target, value]; value a tensor of
    the target's shape and dtype, or null. A later backward accumulates into it."""

    model_config = _IN_PROGRAM
    grad: tuple[Arg, Arg] = Field(alias="set_grad")


class ForStatement(BaseModel):
    """Run ``do`` once per element of ``in`` (a range, a list or tuple, or a tensor's rows),
    binding it to ``for`` (a name, or names to unpack it into)."""

    model_config = _IN_PROGRAM
    target: Target = Field(alias="for")
    iterable: Arg = Field(alias="in")
    body: Statements = Field(alias="do")


class BreakStatement(BaseModel):
    """Leave the innermost loop."""

    model_config = _IN_PROGRAM
    flag: Literal[True] = Field(alias="break")


class ContinueStatement(BaseModel):
    """Go on with the next iteration of the innermost loop."""

    model_config = _IN_PROGRAM
    flag: Literal[True] = Field(alias="continue")


class AssertStatement(BaseModel):
    """Stop the program (problem type assertion-error) unless the condition holds."""

    model_config = _IN_PROGRAM
    cond: Arg = Field(alias="assert")
    message: Arg = Field(None, description="The message of the failure (any value, printed "
                         "with str).")


_STATEMENT_MODELS: dict[type[BaseModel], str] = {
    PrintStatement: "Print", WhileStatement: "While", IfStatement: "If", NoGradStatement: "NoGrad",
    EnableGradStatement: "EnableGrad", SetItemStatement: "SetItem", SetGradStatement: "SetGrad",
    ForStatement: "For", BreakStatement: "Break", ContinueStatement: "Continue",
    AssertStatement: "Assert",
}
# the key that makes a statement of each kind, in the order they are looked for (a call: "op")
_STATEMENT_KEYS = (("print", "Print"), ("while", "While"), ("if", "If"), ("no_grad", "NoGrad"),
                   ("enable_grad", "EnableGrad"), ("setitem", "SetItem"), ("set_grad", "SetGrad"),
                   ("for", "For"), ("break", "Break"),
                   ("continue", "Continue"), ("assert", "Assert"))


def _statement_tag(v: Any) -> str | None:
    if isinstance(v, dict):
        # which key a statement has decides its kind, in this order (a call: "op", last)
        for key, tag in _STATEMENT_KEYS:
            if key in v:
                return tag
        return "Call" if "op" in v else None
    if isinstance(v, CallBase):
        return "Call"
    return _STATEMENT_MODELS.get(type(v))


if TYPE_CHECKING:
    Statement = Any
else:
    Statement = TypeAliasType(
        "Statement",
        Annotated[
            Annotated[Call, Tag("Call")]
            | Annotated[PrintStatement, Tag("Print")]
            | Annotated[WhileStatement, Tag("While")]
            | Annotated[IfStatement, Tag("If")]
            | Annotated[NoGradStatement, Tag("NoGrad")]
            | Annotated[EnableGradStatement, Tag("EnableGrad")]
            | Annotated[SetItemStatement, Tag("SetItem")]
            | Annotated[SetGradStatement, Tag("SetGrad")]
            | Annotated[ForStatement, Tag("For")]
            | Annotated[BreakStatement, Tag("Break")]
            | Annotated[ContinueStatement, Tag("Continue")]
            | Annotated[AssertStatement, Tag("Assert")],
            Discriminator(
                _statement_tag, custom_error_type="invalid_statement",
                custom_error_message='a statement is an object with one of "op", "print", '
                '"while", "if", "no_grad", "enable_grad", "setitem", "set_grad", "for", "break", '
                '"continue" or "assert"'),
        ],
    )


# ----- the request ------------------------------------------------------------------------------
class RunRequest(BaseModel):
    """One program: statements run in order, define-by-run."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "seed": 0,
        "program": [
            {"name": "x", "op": "ones", "attrs": {"size": [2, 2], "requires_grad": True}},
            {"name": "out", "op": "mean", "args": [{"op": "mul", "args": ["x", 3]}]},
            {"op": "backward", "args": ["out"]},
            {"print": {"op": "grad", "args": ["x"]}},
        ],
        "outputs": ["x", "out"],
    }, {
        "seed": 0,
        "source": "import torch\nx = torch.ones(2, 2, requires_grad=True)\n"
                  "out = (x * 3).mean()\nout.backward()\nprint(x.grad)\n",
    }]})

    seed: StrictInt | None = Field(None, ge=0, le=SEED_MAX,
                             description="Seed of the program's random generator.")
    program: OptionalStatements = Field(
        None, description="The statements (exactly one of program and source).")
    source: str | None = Field(
        None, description="Instead of program: PyTorch code (a script, a notebook cell or a "
        "doctest), parsed with Python's ast and translated to the program it means; nothing in "
        "it is executed by Python. Problems about it point at /source and carry a location "
        "(line, column, end_line, end_column; 1-based). POST /v1/translate shows the program.",
        json_schema_extra={"example": "import torch\nx = torch.ones(2, 2, requires_grad=True)\n"
                                      "out = (x * 3).mean()\nout.backward()\nprint(x.grad)\n"})
    inputs: dict[Name, InputValue] | None = Field(
        None, max_length=MAX_INPUTS,
        description="Tensors bound to names before the program runs, so that the same program "
        "(and its compiled form, cached per server process) serves calls at many points. Each "
        "name must be one the program reads and never assigns (in source: a name it reads and "
        "never assigns); an array literal becomes what torch.tensor makes of it, a tensor object "
        "its datatype (requires_grad: a leaf that requires grad). With inputs present, every "
        "such name must be given.",
        json_schema_extra={"example": {"x": [[1.0, 2.0], [3.0, 4.0]]}})
    outputs: list[Name] | None = Field(
        None, fail_fast=True, description="Names to return (default: every name bound at the "
        "end).")
    encoding: Encoding = Field("json", description='"base64" returns b64 instead of data.')
    graph_format: Literal["dot"] | None = Field(
        None, description='"dot" adds the graph as Graphviz DOT text to the answer (dot).')
    detect_anomaly: StrictBool = Field(
        False, description="Stop at the first op whose forward result or backward gradient holds "
        "a NaN or an infinity: a 422 problem of type anomaly whose report (AnomalyReport) names "
        "the op, its grad_fn, the step that created it, the phase and the stats of its inputs "
        "and outputs.")
    # what the route and the source front end note on a request (see noted): one private
    # attribute, not one per note, as pydantic initialises every private attribute of each
    # instance it validates in Python (three of them made most of the cost of validating a
    # request of a program alone)
    _notes: dict[str, Any] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _program_or_source(self) -> RunRequest:
        if (self.program is None) == (self.source is None):
            raise ValueError("a request has exactly one of program and source")
        return self


# The notes a RunRequest may carry, and each one's value where it has none:
NOTES: dict[str, Any] = {
    # names the source front end binds for its own use (an inlined function's locals): not part
    # of the default outputs
    "hidden_names": frozenset(),
    # the program's place in the compile cache (service/compile_cache.py), noted by /v1/run's
    # route as it validates the body; a cached program's statements are not validated again
    # (program is then empty in the request)
    "found": None,
    # the program compiled already, where the body was validated straight into its compiled form
    # (service/json_compiler.py): program is then empty in the request too
    "compiled": None,
}


def noted(request: RunRequest, name: str) -> Any:
    """The note ``name`` of ``request`` (one of NOTES), or its value by default."""
    notes = _notes_of(request)
    return notes[name] if name in notes else NOTES[name]


def note(request: RunRequest, name: str, value: Any) -> None:
    """Note ``value`` as ``request``'s ``name`` (one of NOTES). The notes are replaced, never
    changed in place: a copy of a request (model_copy) shares its notes until either notes
    something."""
    if name not in NOTES:
        raise KeyError(name)
    request._notes = {**_notes_of(request), name: value}


def _notes_of(request: RunRequest) -> dict[str, Any]:
    # (read from the documented __pydantic_private__ dict: reading request._notes finds it only
    # in pydantic's __getattr__, after the normal lookup has failed and made its AttributeError:
    # ~4 us, against ~0.1 us)
    return request.__pydantic_private__["_notes"]  # type: ignore[index]


# ----- the response -----------------------------------------------------------------------------
class TensorOut(TensorObject):
    """A returned tensor: its values (``data`` or ``b64``) and its autograd state."""

    requires_grad: bool
    is_leaf: bool
    retains_grad: bool
    grad_fn: str | None = Field(description="The id of its grad_fn node in graph, or null.")
    grad: TensorObject | None = Field(description="Its .grad, or null.")


class NodeRef(BaseModel):
    model_config = _FORBID
    node: str = Field(description="A node id in graph.")


Value = Annotated[
    StrictBool | int | float | str | None | list[int] | NodeRef,
    Field(description="A non-tensor value: a number (non-finite as a string), a bool, null, a "
          "shape (array of ints), a dtype (\"torch.float32\"), or a grad_fn node."),
]


class NodeOut(BaseModel):
    """A grad_fn node, as torch has it."""

    model_config = _FORBID
    name: str = Field(description="torch's class name, e.g. AddBackward0.")
    next: list[tuple[str | None, int]] = Field(
        description="next_functions: [node id or null, output index] per input.")
    variable: str | None = Field(
        None, description="AccumulateGrad only: the name the leaf is bound to (null if none).")
    shape: list[int] | None = Field(None, description="AccumulateGrad only: the leaf's shape.")
    outputs: int | None = Field(
        None, description="How many outputs the node has, where that is more than one (the "
        "output index in next then says which one an edge takes).")
    saved: list[list[int]] | None = Field(
        None, description="The shapes of the tensors the node saved for backward, where it saved "
        "any and a backward pass has not freed them.")


class Stats(BaseModel):
    model_config = _FORBID
    steps: int = Field(description="Statements executed, loop conditions included (and the "
                       "backward passes of jacobian and hessian steps).")
    loop_iterations: int
    elapsed_s: float
    peak_alive_elements: int
    allocated_elements: int
    backend: str
    device: str
    compile_cached: bool = Field(
        description="The program's compiled form came from this server process's compile cache "
        "(the same program, inputs aside, was run before); nothing else in the answer depends "
        "on it.")


class RunResponse(BaseModel):
    """The outcome of a program."""

    model_config = _FORBID
    tensors: dict[str, TensorOut]
    values: dict[str, Value]
    graph: dict[str, NodeOut]
    printed: list[str] = Field(description="What each print statement wrote, in torch's text.")
    stats: Stats
    dot: str | None = Field(
        None, description='The graph as Graphviz DOT text, when the request asked for '
        'graph_format "dot": a node per grad_fn (AccumulateGrad with the leaf\'s name and shape, '
        'a node that produced a returned tensor with its name), an edge per next_functions entry '
        'that is not None, labelled with its output index where the node has several outputs.')
