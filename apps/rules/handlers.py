"""BeAware's subscription: every event a rule may run on or an aggregate may count.

A batch subscriber: the outbox hands it a relay's whole batch in one transaction (see
`engine.rules_evaluate_batch`). The name stays `rules_on_event`: it names the delivery
records, and a new name would be a new subscriber."""

from apps.core.events import subscribe
from apps.core.models import Event
from apps.rules.catalogue import FACT_EVENT_TYPES, TRIGGER_TYPES
from apps.rules.engine import rules_evaluate_batch


@subscribe(*sorted(TRIGGER_TYPES | FACT_EVENT_TYPES), batch=True)
def rules_on_event(events: list[Event]) -> None:
    rules_evaluate_batch(events)
