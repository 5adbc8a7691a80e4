"""service/pointer.py: RFC 6901 pointers, and pydantic locs mapped through the request."""

from service.pointer import from_loc, pointer


def test_pointer_escapes_tilde_and_slash() -> None:
    assert pointer(()) == ""
    assert pointer(("program", 3, "attrs", "dim")) == "/program/3/attrs/dim"
    assert pointer(("a/b", "c~d")) == "/a~1b/c~0d"


def test_from_loc_drops_union_tags_that_are_not_in_the_document() -> None:
    doc = {"program": [{"while": "c", "do": [{"print": {"op": "add", "args": ["x", {"zz": 1}]}}]}]}
    loc = ("program", 0, "While", "do", 0, "Print", "print", "Arg", "Call", "add", "args", 1)
    assert from_loc(loc, doc) == "/program/0/do/0/print/args/1"


def test_from_loc_keeps_a_missing_member_only_when_asked() -> None:
    doc = {"program": [{"op": "full", "attrs": {}}]}
    loc = ("program", 0, "Call", "full", "attrs", "fill_value")
    assert from_loc(loc, doc, missing=True) == "/program/0/attrs/fill_value"
    assert from_loc(loc, doc) == "/program/0/attrs"
