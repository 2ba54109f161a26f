"""Transactional emit with SQLAlchemy 2: after the commit, or through a durable outbox.

```python
from typed_events.sqlalchemy import Outbox, emit_after_commit

emit_after_commit(session, bus, UserCreated, email=user.email)  # on commit; not durable

outbox = Outbox(bus, engine)
outbox.emit(session, UserCreated, email=user.email)  # a row in the caller's transaction
async with bus, outbox:  # the relay publishes committed rows, then deletes them
    ...
```

Needs the ``sqlalchemy`` extra (``pip install 'typed-events[sqlalchemy]'``). Both work
with a sync ``Session`` and an ``AsyncSession``; see the "Transactions" docs page.
"""

from typed_events.sqlalchemy._after_commit import emit_after_commit
from typed_events.sqlalchemy._outbox import Outbox, OutboxStatus

__all__ = ["Outbox", "OutboxStatus", "emit_after_commit"]
