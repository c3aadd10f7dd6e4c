"""What BeAware knows about events: which can trigger a rule, and which are facts.

A fact is what an aggregate counts: one row per event of a kind (a deposit, a failed
deposit, a bet...), with its amount in major units and whether it happened at night at
the brand. `fact_from_event` reads only the event row, so the live engine (which stores
facts as events arrive) and the backtest (which derives them from the outbox) see the
same history, and so produce the same hits.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

MAX_WINDOW_SECONDS = 90 * 86400
NIGHT_HOURS = range(6)  # 00:00-05:59 at the brand

# Aggregate functions: name -> takes a fact kind (net_loss does not).
AGGREGATE_FUNCTIONS = {
    "sum": True,
    "count": True,
    "avg": True,
    "min": True,
    "max": True,
    "median": True,
    "night_count": True,
    "net_loss": False,
}

# Fact kind -> the event type it comes from, and (field, value) the payload must have.
FACT_SOURCES: dict[str, tuple[str, tuple[str, str] | None]] = {
    "deposit": ("payments.deposit_completed", None),
    "deposit_failed": ("payments.payment_failed", ("kind", "deposit")),
    "withdrawal": ("payments.withdrawal_requested", None),
    "bet": ("wallet.bet_placed", None),
    "win": ("wallet.win_settled", None),
    "rollback": ("wallet.transaction_rolled_back", ("reversed_kind", "bet")),  # a stake returned
    "win_rollback": ("wallet.transaction_rolled_back", ("reversed_kind", "win")),  # a win taken back
    "login": ("players.login_succeeded", None),
    "login_refused": ("players.login_refused", None),
}
FACT_KINDS = tuple(FACT_SOURCES)
_KIND_OF_TYPE: dict[str, list[tuple[str, tuple[str, str] | None]]] = {}
for _kind, (_type, _when) in FACT_SOURCES.items():
    _KIND_OF_TYPE.setdefault(_type, []).append((_kind, _when))
FACT_EVENT_TYPES = frozenset(_KIND_OF_TYPE)

# Events a rule may be triggered by: every event about a player that staff act upon.
TRIGGER_TYPES = frozenset(
    {
        *FACT_EVENT_TYPES,
        "players.player_registered",
        "players.status_changed",
        "players.profile_changed",
        "payments.deposit_initiated",
        "payments.payment_flagged",
        "payments.payment_rejected",
        "payments.payment_cancelled",
        "payments.withdrawal_paid",
        "wallet.deposit_credited",
        "wallet.balance_adjusted",
        "wallet.bonus_changed",
        "games.session_opened",
        "games.round_closed",
        "responsible_gaming.limit_changed",
        "responsible_gaming.exclusion_started",
        "responsible_gaming.breach_attempted",
        "exclusions.register_checked",
        "exclusions.player_excluded_by_register",
    }
)


@dataclass(frozen=True, slots=True)
class Fact:
    kind: str
    amount: Decimal
    occurred_at: datetime
    night: bool


@lru_cache(maxsize=64)
def _exponent(currency: str) -> int:
    from apps.core.models import Currency

    exponent = Currency.objects.filter(code=currency).values_list("exponent", flat=True).first()
    return 2 if exponent is None else exponent


@lru_cache(maxsize=256)
def _zone(brand_id: int) -> ZoneInfo:
    from apps.compliance.interface import brand_timezone

    return ZoneInfo(brand_timezone(brand_id))


def major_units(payload: dict) -> Decimal | None:
    """The payload's `amount` (minor units of `currency`) in major units, exactly."""
    amount = payload.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int):
        return None
    return Decimal(amount).scaleb(-_exponent(payload.get("currency") or ""))


def local_time(brand_id: int | None, moment: datetime) -> datetime:
    return moment if brand_id is None else moment.astimezone(_zone(brand_id))


def fact_from_event(
    event_type: str, brand_id: int | None, payload: dict, occurred_at: datetime
) -> Fact | None:
    """The fact an event is, or None. Reads only the event's own columns."""
    sources = _KIND_OF_TYPE.get(event_type)
    if not sources:
        return None
    for kind, when in sources:
        if when is not None and payload.get(when[0]) != when[1]:
            continue
        amount = major_units(payload)
        night = local_time(brand_id, occurred_at).hour in NIGHT_HOURS
        return Fact(
            kind=kind,
            amount=amount if amount is not None else Decimal(0),
            occurred_at=occurred_at,
            night=night,
        )
    return None


def event_fields(
    event_type: str,
    brand_id: int | None,
    payload: dict,
    occurred_at: datetime,
    only: frozenset[str] | None = None,
) -> dict:
    """What `event.<field>` reads: the payload, with amount in major units and the local
    hour and weekday (Monday = 1) at the brand; numbers as exact decimals, whatever JSON
    made of them. `only`: the fields the conditions read (the rest is not computed)."""
    names = payload.keys() | DERIVED_FIELDS if only is None else only
    fields = {}
    for name in names:
        if name in DERIVED_FIELDS:
            value = _derived(name, event_type, brand_id, payload, occurred_at)
        else:
            value = payload.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            value = Decimal(value)
        elif isinstance(value, float):
            value = Decimal(str(value))
        fields[name] = value
    return fields


DERIVED_FIELDS = frozenset({"amount", "amount_minor", "type", "hour", "weekday"})


def _derived(name: str, event_type: str, brand_id: int | None, payload: dict, occurred_at: datetime):
    if name == "amount":
        return major_units(payload)
    if name == "amount_minor":
        return payload.get("amount")
    if name == "type":
        return event_type
    local = local_time(brand_id, occurred_at)
    return local.hour if name == "hour" else local.isoweekday()
