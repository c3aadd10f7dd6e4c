"""Durable records of refused movements ("breach attempts"), written after the rollback.

A guard refusal rolls back the wallet's transaction, and with it anything written inside
it. So the guard only notes the refusal in the current context (a contextvar), and it is
written, with its event, in a transaction of its own once the refused one is over, by
whoever finishes the unit of work: the RefusalRecorderMiddleware after every request, a
Celery signal after every task, or refusals_flush() (commands, tests). This costs the bet
path nothing and needs no second database connection (which SQLite, the embedded
default, could not even open for writing while the refused transaction holds its lock).
A process that dies between the rollback and the flush loses the note; the wallet
refused the money movement all the same.
"""

import contextvars
import logging
from dataclasses import asdict, dataclass, field

from django.db import connection, transaction
from django.utils import timezone

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RefusalNote:
    player_id: int
    brand_id: int
    action: str
    code: str
    amount: int | None = None
    currency: str = ""
    source: str = ""
    game_ref: str = ""
    detail: dict = field(default_factory=dict)
    occurred_at: object = None
    # How many atomic blocks were open when the guard refused (the refused one included).
    depth: int = 0


_pending: contextvars.ContextVar[list | None] = contextvars.ContextVar("rg_refusals_pending", default=None)


def note(refusal: RefusalNote) -> None:
    pending = _pending.get()
    if pending is None:
        pending = []
        _pending.set(pending)
    pending.append(
        RefusalNote(
            **{**asdict(refusal), "occurred_at": refusal.occurred_at or timezone.now(), "depth": _depth()}
        )
    )


def _depth() -> int:
    return len(connection.atomic_blocks)


def pending_count() -> int:
    return len(_pending.get() or [])


def refusals_flush() -> int:
    """Write the noted refusals and their events; returns how many.

    Only notes whose refused transaction is over (fewer atomic blocks open now than when
    it refused) are written; the others wait for a later flush.
    """
    pending = _pending.get()
    if not pending:
        return 0
    depth = _depth()
    notes = [n for n in pending if n.depth > depth]
    if not notes:
        return 0
    pending[:] = [n for n in pending if n.depth <= depth]
    from apps.core.actors import system_actor
    from apps.core.events import publish
    from apps.responsible_gaming.events import LimitBreachAttempted
    from apps.responsible_gaming.models import Refusal

    try:
        with transaction.atomic():
            for n in notes:
                common = {
                    "player_id": n.player_id,
                    "brand_id": n.brand_id,
                    "action": n.action,
                    "code": n.code,
                    "amount": n.amount,
                    "currency": n.currency,
                }
                row = Refusal.objects.create(
                    **common,
                    source=n.source,
                    game_ref=n.game_ref[:128],
                    detail=n.detail,
                    occurred_at=n.occurred_at,
                )
                publish(
                    LimitBreachAttempted(refusal_id=row.pk, rule=str(n.detail.get("rule", "")), **common),
                    actor=system_actor("responsible-gaming"),
                )
    except Exception:  # noqa: BLE001 - recording must never turn a clean refusal into a 500
        logger.exception("responsible gaming: %d refusal record(s) could not be written", len(notes))
        return 0
    return len(notes)


class RefusalRecorderMiddleware:
    """Writes the refusals a request's guards noted once the request is done."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _pending.set([])
        try:
            return self.get_response(request)
        finally:
            refusals_flush()
            _pending.reset(token)
