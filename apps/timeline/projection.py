"""The one mapping from an outbox event to a timeline entry, shared by live and rebuild.

`entry_from_event` reads only the event row (never the current state of other tables),
so replaying the outbox gives exactly the entries live delivery gave. Summaries carry no
personal data (no IP, name or e-mail): staff without players.view_personal_data read them.

Game play is told by round: games.round_closed gives one GAME entry per round ("Round
<game> closed: bet 10.00 EUR, won 4.50"), and games.round_corrected one more when a closed
round's totals change later (a late rollback or win). Their `amount` is the round's net for
the player, win - bet (negative when the player lost): what the round did to the balance.
The round event carries its currency's exponent, so the summary is formatted from the
event alone.

Not mapped: bets, wins and rollbacks (one per bet would drown the timeline; their round
tells them), and events about no player (exports, batch runs, brand rules, staff access,
reconciliation).
"""

from collections.abc import Callable

from apps.core.models import Event
from apps.core.money import money_format
from apps.timeline.models import TimelineEntry

Category = TimelineEntry.Category
Mapped = tuple[str, str, dict] | None  # (category, summary, extra fields) or None


def _is_staff(event: Event) -> bool:
    return event.actor.startswith("staff:")


def _account_category(event: Event) -> str:
    return Category.STAFF_ACTION if _is_staff(event) else Category.REGISTRATION


def _player(p: dict) -> dict:
    return {"source_type": "players.player", "source_id": p.get("player_id")}


def _registered(event: Event, p: dict) -> Mapped:
    return (
        Category.REGISTRATION,
        f"Registered ({p.get('country', '')}, {p.get('currency', '')})",
        {**_player(p), "currency": p.get("currency", "")},
    )


def _login_succeeded(event: Event, p: dict) -> Mapped:
    return Category.LOGIN, "Logged in", _player(p)


def _login_refused(event: Event, p: dict) -> Mapped:
    return Category.LOGIN, f"Login refused: {p.get('reason', '')}", _player(p)


def _status_changed(event: Event, p: dict) -> Mapped:
    summary = f"Status {p.get('old_status', '')} -> {p.get('new_status', '')}"
    if p.get("reason"):
        summary += f": {p['reason']}"
    return _account_category(event), summary, _player(p)


def _profile_changed(event: Event, p: dict) -> Mapped:
    fields = ", ".join(p.get("fields") or [])
    return _account_category(event), f"Profile changed: {fields}", _player(p)


def _ledger(p: dict) -> dict:
    return {
        "amount": p.get("amount"),
        "currency": p.get("currency", ""),
        "source_type": "wallet.ledgertransaction",
        "source_id": p.get("transaction_id"),
    }


def _wallet_movement(label: str) -> Callable[[Event, dict], Mapped]:
    def mapped(event: Event, p: dict) -> Mapped:
        if p.get("payment_ref"):
            return None  # a payment's movement: the payments events tell it, once
        return Category.PAYMENT, label, _ledger(p)

    return mapped


def _balance_adjusted(event: Event, p: dict) -> Mapped:
    reason = p.get("reason") or ""
    return Category.STAFF_ACTION, f"Balance adjusted: {reason}" if reason else "Balance adjusted", _ledger(p)


def _bonus_changed(event: Event, p: dict) -> Mapped:
    return Category.BONUS, f"Bonus {p.get('kind') or 'changed'}", _ledger(p)


def _adjustment(label: str) -> Callable[[Event, dict], Mapped]:
    def mapped(event: Event, p: dict) -> Mapped:
        return (
            Category.STAFF_ACTION,
            f"{label}: {p.get('reason', '')}",
            {
                "amount": p.get("amount"),
                "source_type": "wallet.adjustmentrequest",
                "source_id": p.get("adjustment_id"),
            },
        )

    return mapped


PAYMENT_LABELS = {
    "payments.deposit_initiated": "Deposit started",
    "payments.deposit_completed": "Deposit completed",
    "payments.withdrawal_requested": "Withdrawal requested",
    "payments.withdrawal_processing": "Withdrawal processing",
    "payments.withdrawal_paid": "Withdrawal paid",
    "payments.payment_flagged": "Payment held for review",
    "payments.payment_approved": "Payment approved",
    "payments.approval_recorded": "Payment approval recorded",
    "payments.payment_rejected": "Payment rejected",
    "payments.payment_failed": "Payment failed",
    "payments.payment_cancelled": "Payment cancelled",
    "payments.review_claimed": "Payment review claimed",
    "payments.review_unclaimed": "Payment review released",
    "payments.review_escalated": "Payment review escalated",
    "payments.incident_recorded": "Payment incident recorded",
}
# Steps of the review workflow itself are what staff did; the rest is the payment's life.
PAYMENT_STAFF_STEPS = {"payments.review_claimed", "payments.review_unclaimed", "payments.review_escalated"}


def _payment(event: Event, p: dict) -> Mapped:
    summary = f"{PAYMENT_LABELS[event.type]} ({p.get('method', '')}, {p.get('reference', '')})"
    if p.get("flags"):
        summary += f" flags: {', '.join(p['flags'])}"
    if p.get("reason"):
        summary += f": {p['reason']}"
    category = Category.STAFF_ACTION if event.type in PAYMENT_STAFF_STEPS else Category.PAYMENT
    return (
        category,
        summary,
        {
            "amount": p.get("amount"),
            "currency": p.get("currency", ""),
            "source_type": "payments.payment",
            "source_id": p.get("payment_id"),
        },
    )


def _limit_changed(event: Event, p: dict) -> Mapped:
    def shown(amount) -> str:
        return "none" if amount is None else str(amount)

    summary = (
        f"{p.get('period', '')} {p.get('kind', '')} limit {shown(p.get('old_amount'))} -> "
        f"{shown(p.get('new_amount'))} ({p.get('status', '')})"
    )
    return (
        Category.LIMIT,
        summary,
        {
            "amount": p.get("new_amount"),
            "currency": p.get("currency", ""),
            "source_type": "responsible_gaming.limitchange",
            "source_id": p.get("change_id"),
        },
    )


def _exclusion_started(event: Event, p: dict) -> Mapped:
    kind = (p.get("kind") or "").replace("_", " ")
    summary = f"{kind.capitalize()} started ({p.get('scope', '')}) until {p.get('ends_at') or 'indefinite'}"
    return (
        Category.EXCLUSION,
        summary,
        {"source_type": "responsible_gaming.exclusion", "source_id": p.get("exclusion_id")},
    )


def _reality_check(event: Event, p: dict) -> Mapped:
    minutes = p.get("minutes")
    summary = f"Reality check every {minutes} minutes" if minutes else "Reality check turned off"
    return Category.LIMIT, summary, _player(p)


def _breach_attempted(event: Event, p: dict) -> Mapped:
    return (
        Category.LIMIT,
        f"Refused {p.get('action', '')}: {p.get('code', '')} ({p.get('rule', '')})",
        {
            "amount": p.get("amount"),
            "currency": p.get("currency", ""),
            "source_type": "responsible_gaming.refusal",
            "source_id": p.get("refusal_id"),
        },
    )


def _register_checked(event: Event, p: dict) -> Mapped:
    return (
        Category.REGISTER_CHECK,
        f"{p.get('register', '')} check ({p.get('purpose', '')}): {p.get('outcome', '')}",
        {"source_type": "exclusions.registercheck", "source_id": p.get("check_id")},
    )


def _excluded_by_register(event: Event, p: dict) -> Mapped:
    return (
        Category.EXCLUSION,
        f"Excluded by {p.get('register', '')} ({p.get('purpose', '')})",
        {"source_type": "exclusions.registercheck", "source_id": p.get("check_id")},
    )


def _session_opened(event: Event, p: dict) -> Mapped:
    return (
        Category.GAME,
        f"Game session opened: {p.get('game_code', '')} ({p.get('provider', '')})",
        {
            "currency": p.get("currency", ""),
            "source_type": "games.gamesession",
            "source_id": p.get("session_id"),
        },
    )


def _money(minor, p: dict, *, with_currency: bool = True) -> str:
    exponent = p.get("currency_exponent")
    if not isinstance(minor, int) or not isinstance(exponent, int):
        return str(minor)  # not a well-formed round event: the minor units, as they are
    shown = money_format(minor, currency_exponent=exponent, currency_code=p.get("currency", ""))
    return shown if with_currency else shown.rsplit(" ", 1)[0]


def _round(verb: str) -> Callable[[Event, dict], Mapped]:
    def mapped(event: Event, p: dict) -> Mapped:
        bet, win = p.get("bet_total"), p.get("win_total")
        summary = (
            f"Round {p.get('game_code') or p.get('round_ref', '')} {verb}: bet {_money(bet, p)}, "
            f"won {_money(win, p, with_currency=False)}"
        )
        rollbacks = p.get("rollbacks")
        if rollbacks:
            summary += f" ({rollbacks} rollback{'' if rollbacks == 1 else 's'})"
        net = win - bet if isinstance(bet, int) and isinstance(win, int) else None
        return (
            Category.GAME,
            summary,
            {
                "amount": net,
                "currency": p.get("currency", ""),
                "source_type": "games.round",
                "source_id": p.get("round_id"),
            },
        )

    return mapped


def _rule_fired(event: Event, p: dict) -> Mapped:
    """A BeAware rule acted on the player (actor system:rules): what each action did."""
    done = "; ".join(
        f"{o.get('type')}: {o.get('detail')}" if o.get("result") == "done" else f"{o.get('type')} refused"
        for o in p.get("outcomes") or []
    )
    return (
        Category.STAFF_ACTION,
        f"Rule '{p.get('rule_name', '')}' v{p.get('version', '')} fired: {done}",
        {"source_type": "rules.rulehit", "source_id": p.get("hit_id")},
    )


def _player_messaged(event: Event, p: dict) -> Mapped:
    return (
        Category.COMMUNICATION,
        f"Message sent ({p.get('channel', '')}): {p.get('subject', '')}",
        {"source_type": "rules.message", "source_id": p.get("message_id")},
    )


MAPPERS: dict[str, Callable[[Event, dict], Mapped]] = {
    "players.player_registered": _registered,
    "players.login_succeeded": _login_succeeded,
    "players.login_refused": _login_refused,
    "players.status_changed": _status_changed,
    "players.profile_changed": _profile_changed,
    "wallet.deposit_credited": _wallet_movement("Deposit credited"),
    "wallet.withdrawal_reserved": _wallet_movement("Withdrawal reserved"),
    "wallet.withdrawal_released": _wallet_movement("Withdrawal released"),
    "wallet.withdrawal_settled": _wallet_movement("Withdrawal settled"),
    "wallet.balance_adjusted": _balance_adjusted,
    "wallet.bonus_changed": _bonus_changed,
    "wallet.adjustment_requested": _adjustment("Adjustment requested"),
    "wallet.adjustment_rejected": _adjustment("Adjustment rejected"),
    **dict.fromkeys(PAYMENT_LABELS, _payment),
    "responsible_gaming.limit_changed": _limit_changed,
    "responsible_gaming.exclusion_started": _exclusion_started,
    "responsible_gaming.reality_check_changed": _reality_check,
    "responsible_gaming.breach_attempted": _breach_attempted,
    "exclusions.register_checked": _register_checked,
    "exclusions.player_excluded_by_register": _excluded_by_register,
    "games.session_opened": _session_opened,
    "games.round_closed": _round("closed"),
    "games.round_corrected": _round("corrected"),
    "rules.rule_fired": _rule_fired,
    "rules.player_messaged": _player_messaged,
}
MAPPED_TYPES = tuple(MAPPERS)

SUMMARY_MAX = TimelineEntry._meta.get_field("summary").max_length


def entry_from_event(event: Event) -> TimelineEntry | None:
    """The unsaved timeline entry of an event, or None when the event has no place on a
    player's timeline (unmapped type, no player, or a movement another event tells)."""
    mapper = MAPPERS.get(event.type)
    if mapper is None or event.player_id is None or event.brand_id is None:
        return None
    mapped = mapper(event, event.payload or {})
    if mapped is None:
        return None
    category, summary, extra = mapped
    if len(summary) > SUMMARY_MAX:
        summary = summary[: SUMMARY_MAX - 1] + "…"
    return TimelineEntry(
        player_id=event.player_id,
        brand_id=event.brand_id,
        occurred_at=event.occurred_at,
        category=category,
        summary=summary,
        actor=event.actor,
        event_id=event.pk,
        **extra,
    )
