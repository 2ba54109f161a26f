"""stubgen in this process: the annotations it writes, and the command's exit codes."""

from __future__ import annotations

import enum
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, NewType

import pytest
from pydantic import Field

from typed_events import Event
from typed_events.cli import main
from typed_events.cli._stubgen import render_annotation, render_stubs

REPO = Path(__file__).resolve().parents[2]
UserId = NewType("UserId", str)


class Colour(enum.Enum):
    RED = "red"


CASES: list[tuple[Any, str, set[str]]] = [
    (str, "str", set()),
    (list[str], "list[str]", set()),
    (dict[str, int | None], "dict[str, int | None]", set()),
    (Literal["a", 1], "typing.Literal['a', 1]", set()),
    (Literal[Colour.RED], "typing.Any", set()),
    (Annotated[int, "meta"], "int", set()),
    (UserId, f"{__name__}.UserId", {__name__}),
    (Colour, f"{__name__}.Colour", {__name__}),
    (
        Callable[[int, str], bool],
        "collections.abc.Callable[[int, str], bool]",
        {"collections.abc"},
    ),
    (Callable[..., None], "collections.abc.Callable[..., None]", {"collections.abc"}),
    (tuple[int, ...], "tuple[int, ...]", set()),
    (Any, "typing.Any", set()),
    (None, "None", set()),
    ("NotResolved", "typing.Any", set()),
]


@pytest.mark.parametrize(("annotation", "rendered", "imports"), CASES)
def test_annotations_are_written_as_importable_source(
    annotation: Any, rendered: str, imports: set[str]
) -> None:
    found: set[str] = set()
    assert render_annotation(annotation, found) == rendered
    assert found == imports


def test_a_class_defined_in_a_function_is_not_named() -> None:
    class Local:
        pass

    assert render_annotation(Local, set()) == "typing.Any"


def test_overloads_follow_the_fields() -> None:
    class Shipped(Event, event_id="stubgen_shipped"):
        note: str = ""
        order_id: int
        tags: list[str] = Field(default_factory=list)
        event: str = "x"

    class Aliased(Event, event_id="stubgen_aliased"):
        kind: str = Field(alias="class")

    bus_stub = render_stubs([Shipped, Aliased], app="m:bus")["typed_events/bus.pyi"]
    assert (
        "def emit(self, _event: typing.Literal['stubgen_shipped'], /, note: str=..., *, "
        "order_id: int, tags: list[str]=..., event: str=...) -> None" in bus_stub
    )
    assert (
        "def emit(self, event: typing.Literal['stubgen_aliased'], /, **fields: typing.Any)"
        in bus_stub
    )
    assert "async def emit_and_wait(self, event: typing.Literal['stubgen_aliased']" in bus_stub


def test_command_writes_then_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    arguments = ["stubgen", "examples.app:bus", "--app-dir", str(REPO), "-o", str(tmp_path)]
    assert main(arguments) == 0
    assert main([*arguments, "--check"]) == 0
    (tmp_path / "typed_events/__init__.pyi").unlink()
    assert main([*arguments, "--check"]) == 1
    assert f"stale: {tmp_path}/typed_events/__init__.pyi" in capsys.readouterr().err


def test_an_app_that_cannot_be_wired_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "stubgen_broken_app.py").write_text(
        "from typed_events import listener\n\n"
        "@listener('stubgen_no_such_id')\n"
        "async def orphan(**kwargs: object) -> None: ...\n\n"
        "listeners = [orphan]\n"
    )
    assert main(["stubgen", "stubgen_broken_app:listeners", "--app-dir", str(tmp_path)]) == 1
    assert "run `typed-events check stubgen_broken_app:listeners`" in capsys.readouterr().err
