"""Run callbacks after a session's outermost commit; drop them on rollback.

SQLAlchemy's ``after_commit`` session event fires for every commit of a
``SessionTransaction``: the outermost one, and also each savepoint released by
``begin_nested()``. Emitting there would announce work that the enclosing transaction
may still roll back. So the callbacks belong to the transaction that was current when
they were registered (the innermost savepoint, else the root):

- a savepoint that is released hands its callbacks to its parent;
- a transaction that ends without committing (rollback, close) drops its own, and with
  them those its released savepoints had handed over;
- the root transaction, once committed, runs them, in registration order.

Flush "subtransactions" (neither nested nor root) never hold callbacks. The state lives
in ``session.info``; the session's listeners are added on first use.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

__all__ = ["on_commit", "sync_session"]

logger = logging.getLogger("typed_events")

_KEY = "typed_events_commit_hooks"

Callback = Callable[[], None]


class _Hooks:
    """The callbacks of one session, per open transaction."""

    def __init__(self) -> None:
        self.pending: dict[SessionTransaction, list[Callback]] = {}
        self.committed: set[SessionTransaction] = set()

    def after_commit(self, session: Session) -> None:
        # During after_commit, the committing transaction is still the current one:
        # the innermost savepoint if it is one, else the root.
        current = session.get_nested_transaction() or session.get_transaction()
        if current is not None:
            self.committed.add(current)

    def after_transaction_end(self, session: Session, transaction: SessionTransaction) -> None:
        callbacks = self.pending.pop(transaction, None)
        committed = transaction in self.committed
        self.committed.discard(transaction)
        if not callbacks or not committed:
            return  # nothing registered, or rolled back / closed: dropped
        parent = transaction.parent
        if parent is not None:  # a released savepoint: its parent decides
            self.pending.setdefault(parent, []).extend(callbacks)
            return
        for callback in callbacks:
            try:
                callback()
            except Exception:
                # The data is committed: raising from commit() would say otherwise.
                logger.exception("a callback after the commit of %r failed", session)


def sync_session(session: Session | AsyncSession) -> Session:
    """The ``Session`` behind ``session`` (an ``AsyncSession`` wraps one)."""
    if isinstance(session, AsyncSession):
        return session.sync_session
    if isinstance(session, Session):
        return session
    raise TypeError(
        f"expected a SQLAlchemy Session or AsyncSession, got {type(session).__qualname__}"
    )


def current_transaction(session: Session, caller: str) -> SessionTransaction:
    """The innermost savepoint, else the root transaction (begun now if none is).

    :raises InvalidRequestError: if no transaction is open and autobegin is off.
    """
    transaction = session.get_nested_transaction() or session.get_transaction()
    if transaction is not None:
        return transaction
    if not session.autobegin:
        raise InvalidRequestError(
            f"{caller}: the session has no transaction and autobegin is disabled; "
            "call it inside `with session.begin():`"
        )
    return session.begin()  # what session.add() would do: begin the root transaction


def on_commit(session: Session | AsyncSession, callback: Callback, *, caller: str) -> None:
    """Run ``callback()`` after the outermost commit of the current transaction.

    Dropped if that transaction (or the savepoint current now) rolls back. Exceptions
    of ``callback`` are logged, not raised: the commit has happened.
    """
    sync = sync_session(session)
    transaction = current_transaction(sync, caller)
    hooks_of(sync).pending.setdefault(transaction, []).append(callback)


def hooks_of(session: Session) -> _Hooks:
    hooks: Any = session.info.get(_KEY)
    if hooks is None:
        hooks = _Hooks()
        session.info[_KEY] = hooks
        event.listen(session, "after_commit", hooks.after_commit)
        event.listen(session, "after_transaction_end", hooks.after_transaction_end)
    assert isinstance(hooks, _Hooks)
    return hooks
