"""Read a ListenerSignatureError as (listener function name, event id, field) triples."""

from __future__ import annotations

from typed_events import ListenerSignatureError, SignatureProblem


def summary(error: ListenerSignatureError) -> list[tuple[str, str, str | None]]:
    """One triple per problem, in the error's order; the listener's module is dropped."""
    triples: list[tuple[str, str, str | None]] = []
    for problem in error.problems:
        assert isinstance(problem, SignatureProblem)
        triples.append((problem.listener.rsplit(".", 1)[-1], problem.event_id, problem.field))
    return triples
