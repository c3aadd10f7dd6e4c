"""BeAware's subscription: every event a rule may run on or an aggregate may count."""

from apps.core.events import subscribe
from apps.core.models import Event
from apps.rules.catalogue import FACT_EVENT_TYPES, TRIGGER_TYPES
from apps.rules.engine import rules_evaluate


@subscribe(*sorted(TRIGGER_TYPES | FACT_EVENT_TYPES))
def rules_on_event(event: Event) -> None:
    rules_evaluate(event)
