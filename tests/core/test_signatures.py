"""The registration-time check: every mismatch found at bus construction, no false alarms."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from enum import Enum, IntEnum
from typing import Annotated, Any, Generic, Literal, NewType, Optional, TypeVar, Union

import pytest
from pydantic import BaseModel, Field

from typed_events import Event, EventBus, ListenerSignatureError, listener

from . import postponed


class UserDeleted(Event, event_id="sig_user_deleted"):
    email: str
    reason: str


class Address(BaseModel):
    city: str


class Rich(Event, event_id="sig_rich"):
    count: int
    ratio: float
    flag: bool
    maybe: str | None = None
    tags: list[str] = Field(default_factory=list)
    mode: Literal["a", "b"] = "a"
    address: Address = Address(city="x")
    label: Annotated[str, Field(max_length=10)] = "l"


class Other(Event, event_id="sig_other"):
    email: str


UserId = NewType("UserId", str)


def problems_of(*listeners: Any, events: Sequence[type[Event]] = ()) -> list[str]:
    with pytest.raises(ListenerSignatureError) as info:
        EventBus(listeners=listeners, events=events)
    assert isinstance(info.value, TypeError)
    return [str(p) for p in info.value.problems]


def test_the_seeds_missing_kwargs_mistake_is_caught_with_both_listeners_named() -> None:
    @listener("sig_user_deleted")
    async def send_farewell_email_handler(email: str) -> None: ...

    @listener("sig_user_deleted")
    async def notify_customer_support(reason: str) -> None: ...

    with pytest.raises(ListenerSignatureError) as info:
        EventBus(listeners=[send_farewell_email_handler, notify_customer_support])
    message = str(info.value)
    assert message.startswith("2 listener signature problems:")
    lines = message.splitlines()[1:]
    assert len(lines) == 2
    assert "send_farewell_email_handler" in lines[0]
    assert 'field "reason"' in lines[0]
    assert "notify_customer_support" in lines[1]
    assert 'field "email"' in lines[1]
    for line in lines:
        assert 'event "sig_user_deleted"' in line
        assert "test_signatures.py:" in line  # file:line of the listener
        assert "**kwargs" in line  # the fix


def test_the_seeds_fixed_example_with_kwargs_passes() -> None:
    @listener("sig_user_deleted")
    async def send_farewell_email_handler(email: str, **kwargs: Any) -> None: ...

    @listener("sig_user_deleted")
    async def notify_customer_support(reason: str, **kwargs: Any) -> None: ...

    EventBus(listeners=[send_farewell_email_handler, notify_customer_support])


def test_required_parameter_that_is_not_a_field() -> None:
    @listener(Other)
    async def handler(email: str, phone: str) -> None: ...

    [line] = problems_of(handler)
    assert 'field "phone"' in line
    assert "required" in line
    assert 'give "phone" a default' in line


def test_field_of_the_wrong_type_is_reported_with_both_types() -> None:
    @listener(Rich)
    async def handler(count: str, **kwargs: Any) -> None: ...

    [line] = problems_of(handler)
    assert 'field "count"' in line
    assert "the field is int" in line
    assert 'parameter "count" is annotated str' in line


def test_optional_field_into_non_optional_parameter() -> None:
    @listener(Rich)
    async def handler(maybe: str, **kwargs: Any) -> None: ...

    [line] = problems_of(handler)
    assert 'field "maybe"' in line
    assert "None" in line


def test_kwargs_annotation_is_checked_for_the_fields_it_receives() -> None:
    @listener(Rich)
    async def handler(**kwargs: str) -> None: ...

    lines = problems_of(handler)
    fields = sorted(line.split('field "')[1].split('"')[0] for line in lines)
    # label (Annotated str) and mode (Literal of str) fit `str`; the others do not.
    assert fields == ["address", "count", "flag", "maybe", "ratio", "tags"]
    assert all("**kwargs" in line for line in lines)


def test_positional_only_parameter_without_default() -> None:
    @listener(Other)
    async def handler(email: str, /) -> None: ...

    lines = problems_of(handler)
    assert any("positional-only" in line for line in lines)


def test_event_style_with_the_wrong_event_class() -> None:
    @listener(Other)
    async def handler(event: UserDeleted) -> None: ...

    [line] = problems_of(handler)
    assert "does not accept Other" in line
    assert 'event "sig_other"' in line


def test_event_style_extra_required_parameter() -> None:
    @listener(Other)
    async def handler(event: Other, extra: int) -> None: ...

    [line] = problems_of(handler)
    assert '"extra" is required' in line


def test_unknown_id_is_reported_with_a_suggestion() -> None:
    @listener("sig_user_deleetd")
    async def handler(**kwargs: Any) -> None: ...

    [line] = problems_of(handler)
    assert 'did you mean "sig_user_deleted"?' in line


def test_every_problem_of_every_listener_is_listed_at_once() -> None:
    @listener(Other, UserDeleted)
    async def one(email: str) -> None: ...

    @listener(Rich)
    async def two(count: str, ratio: str, **kwargs: Any) -> None: ...

    lines = problems_of(one, two)
    assert len(lines) == 3  # reason missing on UserDeleted; count and ratio wrong


def test_postponed_annotations_are_resolved() -> None:
    EventBus(listeners=[postponed.index_article, postponed.count_words])
    [line] = problems_of(postponed.wrong_words)
    assert 'field "words"' in line
    assert "postponed.py:" in line


class _Callable:
    async def __call__(self, email: str, **kwargs: Any) -> None: ...


class _Service:
    def handle(self, event: Other) -> None: ...


async def _two_args(prefix: str, email: str) -> None: ...


def test_untyped_lambda_passes() -> None:
    EventBus(listeners=[listener(Other)(lambda email, **kw: None)])


def test_partial_callable_object_and_bound_method_are_checked() -> None:
    EventBus(
        listeners=[
            listener(Other)(functools.partial(_two_args, "hello")),
            listener(Other)(_Callable()),
            listener(Other)(_Service().handle),
        ]
    )
    [line] = problems_of(listener(Other)(functools.partial(_two_args, email="x")))
    assert "partial(" in line
    assert '"prefix" is required' in line


# --- no false alarms ------------------------------------------------------------------


async def ok_kwargs(**kwargs: Any) -> None: ...
async def ok_object(count: object, **kwargs: object) -> None: ...
async def ok_any(count: Any, ratio: Any, **kwargs: Any) -> None: ...
async def ok_defaults(count: int = 0, extra: str = "x", **kwargs: Any) -> None: ...
async def ok_numeric_tower(ratio: float, count: float, flag: int, **kwargs: Any) -> None: ...
async def ok_complex(ratio: complex, **kwargs: Any) -> None: ...
async def ok_optional(maybe: Optional[str], **kwargs: Any) -> None: ...  # noqa: UP045
async def ok_union(maybe: Union[str, int, None], **kwargs: Any) -> None: ...  # noqa: UP007
async def ok_pipe_union(maybe: str | None, count: int | str, **kwargs: Any) -> None: ...
async def ok_literal(mode: str, **kwargs: Any) -> None: ...
async def ok_literal_exact(mode: Literal["a", "b", "c"], **kwargs: Any) -> None: ...
async def ok_annotated(label: Annotated[str, "meta"], **kwargs: Any) -> None: ...
async def ok_nested(address: Address, **kwargs: Any) -> None: ...
async def ok_nested_base(address: BaseModel, **kwargs: Any) -> None: ...
async def ok_sequence(tags: Sequence[str], **kwargs: Any) -> None: ...
async def ok_bare_list(tags: list, **kwargs: Any) -> None: ...  # type: ignore[type-arg]
async def ok_unannotated(count, ratio, **kwargs):  # type: ignore[no-untyped-def]
    ...
async def ok_event_base(event: Event) -> None: ...
async def ok_event_union(event: Rich | Other) -> None: ...
async def ok_event_extra_default(event: Rich, retry: bool = False) -> None: ...
async def ok_varargs(*args: Any, **kwargs: Any) -> None: ...


@pytest.mark.parametrize(
    "func",
    [
        ok_kwargs,
        ok_object,
        ok_any,
        ok_defaults,
        ok_numeric_tower,
        ok_complex,
        ok_optional,
        ok_union,
        ok_pipe_union,
        ok_literal,
        ok_literal_exact,
        ok_annotated,
        ok_nested,
        ok_nested_base,
        ok_sequence,
        ok_bare_list,
        ok_unannotated,
        ok_event_base,
        ok_event_union,
        ok_event_extra_default,
        ok_varargs,
    ],
)
def test_valid_listeners_raise_no_false_alarm(func: Any) -> None:
    EventBus(listeners=[listener(Rich)(func)])


class Sub(Rich, event_id="sig_sub"):
    pass


def test_subclass_event_is_accepted_by_a_base_class_parameter() -> None:
    async def handler(event: Rich) -> None: ...

    EventBus(listeners=[listener(Sub)(handler)])


def test_newtype_parameter_accepts_its_base_field() -> None:
    class Ids(Event, event_id="sig_ids"):
        user: UserId

    async def handler(user: str) -> None: ...

    EventBus(listeners=[listener(Ids)(handler)])


def test_invariant_container_with_clearly_wrong_elements_is_reported() -> None:
    async def handler(tags: list[int], **kwargs: Any) -> None: ...

    [line] = problems_of(listener(Rich)(handler))
    assert 'field "tags"' in line


def test_literal_field_into_narrower_literal_is_reported() -> None:
    async def handler(mode: Literal["a"], **kwargs: Any) -> None: ...

    [line] = problems_of(listener(Rich)(handler))
    assert 'field "mode"' in line


# --- mypy's rules, not identity: numeric tower, Literal, generic models, NewType -------

T = TypeVar("T")


class Box(BaseModel, Generic[T]):
    item: T


class Color(Enum):
    RED = 1
    BLUE = 2


class Priority(IntEnum):
    LOW = 1
    HIGH = 2


IntUserId = NewType("IntUserId", int)
AdminId = NewType("AdminId", IntUserId)


class Tower(Event, event_id="sig_tower"):
    flag: bool
    priority: Priority
    count: int
    ratio: float
    color: Color
    box: Box[str]
    user: IntUserId
    admin: AdminId


async def ok_bool_float(flag: float, **kwargs: Any) -> None: ...
async def ok_bool_complex(flag: complex, **kwargs: Any) -> None: ...
async def ok_int_enum_int(priority: int, **kwargs: Any) -> None: ...
async def ok_int_enum_float(priority: float, **kwargs: Any) -> None: ...
async def ok_int_enum_complex(priority: complex, **kwargs: Any) -> None: ...
async def ok_int_complex(count: complex, ratio: complex, **kwargs: Any) -> None: ...
async def ok_bool_literal(flag: Literal[True, False], **kwargs: Any) -> None: ...
async def ok_bool_literal_union(flag: Literal[True] | Literal[False], **kwargs: Any) -> None: ...
async def ok_bool_literal_optional(flag: Literal[True, False] | None, **kwargs: Any) -> None: ...
async def ok_enum_literal(color: Literal[Color.RED, Color.BLUE], **kwargs: Any) -> None: ...
async def ok_int_enum_literal(
    priority: Literal[Priority.LOW, Priority.HIGH], **kwargs: Any
) -> None: ...
async def ok_generic_any(box: Box[Any], **kwargs: Any) -> None: ...
async def ok_generic_same(box: Box[str], **kwargs: Any) -> None: ...
async def ok_generic_bare(box: Box, **kwargs: Any) -> None: ...  # type: ignore[type-arg]
async def ok_newtype_base(user: int, admin: float, **kwargs: Any) -> None: ...
async def ok_newtype_same(user: IntUserId, admin: IntUserId, **kwargs: Any) -> None: ...
async def ok_newtype_optional(user: IntUserId | None, **kwargs: Any) -> None: ...


@pytest.mark.parametrize(
    "func",
    [
        ok_bool_float,
        ok_bool_complex,
        ok_int_enum_int,
        ok_int_enum_float,
        ok_int_enum_complex,
        ok_int_complex,
        ok_bool_literal,
        ok_bool_literal_union,
        ok_bool_literal_optional,
        ok_enum_literal,
        ok_int_enum_literal,
        ok_generic_any,
        ok_generic_same,
        ok_generic_bare,
        ok_newtype_base,
        ok_newtype_same,
        ok_newtype_optional,
    ],
)
def test_what_mypy_accepts_raises_no_false_alarm(func: Any) -> None:
    EventBus(listeners=[listener(Tower)(func)])


async def bad_bool_one_literal(flag: Literal[True], **kwargs: Any) -> None: ...
async def bad_bool_int_literal(flag: Literal[1, 0], **kwargs: Any) -> None: ...
async def bad_enum_one_member(color: Literal[Color.RED], **kwargs: Any) -> None: ...
async def bad_int_enum_values(priority: Literal[1, 2], **kwargs: Any) -> None: ...
async def bad_generic_argument(box: Box[int], **kwargs: Any) -> None: ...
async def bad_float_into_int(ratio: int, **kwargs: Any) -> None: ...
async def bad_int_into_bool(count: bool, **kwargs: Any) -> None: ...


@pytest.mark.parametrize(
    ("func", "field"),
    [
        (bad_bool_one_literal, "flag"),
        (bad_bool_int_literal, "flag"),
        (bad_enum_one_member, "color"),
        (bad_int_enum_values, "priority"),
        (bad_generic_argument, "box"),
        (bad_float_into_int, "ratio"),
        (bad_int_into_bool, "count"),
    ],
)
def test_what_mypy_refuses_is_still_reported(func: Any, field: str) -> None:
    [line] = problems_of(listener(Tower)(func))
    assert f'field "{field}"' in line
    assert 'event "sig_tower"' in line


def test_a_newtype_parameter_refuses_its_base_type_as_mypy_does() -> None:
    class Login(Event, event_id="sig_login"):
        user: int

    async def handler(user: IntUserId) -> None: ...

    [line] = problems_of(listener(Login)(handler))
    assert 'event "sig_login" field "user"' in line
    assert "the field is int" in line
    assert 'parameter "user" is annotated IntUserId, which cannot accept it' in line
    assert "test_signatures.py:" in line


@pytest.mark.anyio
async def test_listeners_mypy_accepts_receive_the_values() -> None:
    received: list[tuple[float, complex, bool, Box[Any], int]] = []

    @listener(Tower)
    async def handler(
        priority: float,
        flag: complex,
        color: Literal[Color.RED, Color.BLUE],
        box: Box[Any],
        user: int,
        **kwargs: Any,
    ) -> None:
        received.append((priority, flag, color is Color.BLUE, box, user))

    bus = EventBus(listeners=[handler])
    event = Tower(
        flag=True,
        priority=Priority.HIGH,
        count=1,
        ratio=0.5,
        color=Color.BLUE,
        box=Box[str](item="x"),
        user=IntUserId(7),
        admin=AdminId(IntUserId(8)),
    )
    async with bus:
        await bus.emit_and_wait(event)
    assert received == [(Priority.HIGH, True, True, Box[str](item="x"), 7)]


# --- event parameters spelled wrong: one accurate message each ------------------------


def only_problem_of(subscriber: Any) -> str:
    lines = problems_of(subscriber)
    assert len(lines) == 1, lines
    [line] = lines
    assert 'event "sig_other"' in line
    assert "test_signatures.py:" in line  # file:line of the listener
    return line


def test_a_keyword_only_event_parameter_is_one_problem() -> None:
    @listener(Other)
    async def handler(*, event: Other) -> None: ...

    line = only_problem_of(handler)
    assert "test_a_keyword_only_event_parameter_is_one_problem.<locals>.handler" in line
    assert 'parameter "event" is keyword-only' in line
    assert "the event is passed as the first positional argument" in line
    assert 'Fix: remove the "*" before "event"' in line


def test_an_optional_event_parameter_is_one_problem() -> None:
    @listener(Other)
    async def handler(event: Other | None) -> None: ...

    line = only_problem_of(handler)
    assert 'parameter "event" is annotated Other | None' in line
    assert "an event is never None" in line
    assert "Fix: annotate it `event: Other`" in line


class _Mailer:
    @listener(Other)
    async def on_other(self, event: Other) -> None: ...


def test_an_unbound_method_is_one_problem() -> None:
    line = only_problem_of(_Mailer.on_other)
    assert "_Mailer.on_other" in line
    assert 'a method used without an instance: its "self" is never filled' in line
    assert "Fix: pass the method of an instance, `EventBus(listeners=[_Mailer().on_other])`" in (
        line
    )


def test_the_method_of_an_instance_passes() -> None:
    EventBus(listeners=[_Mailer().on_other])


async def _unresolvable(event):  # type: ignore[no-untyped-def]
    ...


# As `event: OtherEvnt` reads under `from __future__ import annotations`: a misspelled name.
_unresolvable.__annotations__ = {"event": "OtherEvnt", "return": "None"}


def test_an_unresolvable_event_annotation_is_one_problem() -> None:
    line = only_problem_of(listener(Other)(_unresolvable))
    assert 'the annotation "OtherEvnt" of parameter "event" cannot be resolved' in line
    assert "name 'OtherEvnt' is not defined" in line
    assert "Fix: import OtherEvnt in the listener's module" in line


async def _unresolvable_field(email, **kwargs):  # type: ignore[no-untyped-def]
    ...


# A field parameter whose type only exists under `if TYPE_CHECKING:`: undecidable, so it passes.
_unresolvable_field.__annotations__ = {"email": "EmailAddress", "return": "None"}


def test_an_unresolvable_annotation_on_a_field_parameter_passes() -> None:
    EventBus(listeners=[listener(Other)(_unresolvable_field)])
