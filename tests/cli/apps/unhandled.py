"""A correct app with an event that no listener handles (a warning, not an error)."""

from __future__ import annotations

from typed_events import Event, EventBus, listener


class InvoiceSent(Event, event_id="invoice_sent"):
    invoice_id: int


class InvoiceVoided(Event, event_id="invoice_voided"):
    invoice_id: int
    reason: str


class AuditEvent(Event):
    """A base class: not reported, only its subclasses are."""


class ExportRequested(AuditEvent, event_id="export_requested"):
    user: str


@listener(InvoiceSent)
async def archive(event: InvoiceSent) -> None:
    """Handles only invoice_sent."""


@listener(ExportRequested)
async def export(event: ExportRequested) -> None:
    """Handles export_requested."""


bus = EventBus(listeners=[archive, export], events=[InvoiceVoided])
