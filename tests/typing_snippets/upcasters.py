"""Upcasters and the version keywords, statically: the function must map dict to dict."""

from typing import Any

from typed_events import Event, upcaster


class Renamed(Event, event_id="renamed", version=2, min_version=1):
    full_name: str


@upcaster(Renamed, from_version=1)
def name_to_full_name(data: dict[str, Any]) -> dict[str, Any]:
    return {"full_name": data.pop("name"), **data}


version: int = Renamed.event_version
oldest: int = Renamed.event_min_version
same = name_to_full_name({"name": "Ann"})  # the decorator returns the function unchanged


@upcaster(Renamed, from_version=1)  # E[mypy,pydantic,plugin]: Value of type variable "UpcastFunction" of function cannot be "Callable[[str], str]"  # E[pyright]: Argument of type "(data: str) -> str" cannot be assigned to parameter of type "UpcastFunction@upcaster"  # E[pyright]: Untyped function decorator obscures type of function
def takes_a_string(data: str) -> str:
    return data


upcaster(Renamed, from_version="1")  # E[mypy,pydantic,plugin]: Argument "from_version" to "upcaster" has incompatible type "str"; expected "int"  # E[pyright]: Argument of type "Literal['1']" cannot be assigned to parameter "from_version"
