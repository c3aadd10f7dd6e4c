"""Writes of responsible gaming: limits, scheduled increases, time-outs, self-exclusions.

Who may act: the player on themselves, or staff holding responsible_gaming.set_limits on
the player's brand, always with a reason (audited, and on the events). Every change takes
the player's guard lock exclusively (guard.guard_lock) and rewrites the player's
GuardState in the same transaction, so the wallet guard sees all of it or none of it.
Decreases apply at once; increases and removals wait for the pack's cooling-off
(limits.increase_cooling_off_hours, and the end of the current period where
limits.increase_not_before_period_end) and are applied by limits_apply_due_task.
"""

from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.compliance.selectors import rules_for_brand
from apps.core.actors import Actor, actor_label, audit_as
from apps.core.events import publish
from apps.players.models import Player
from apps.players.services import player_status_apply
from apps.responsible_gaming import events
from apps.responsible_gaming.exceptions import ExclusionRefused, LimitRefused
from apps.responsible_gaming.guard import guard_lock
from apps.responsible_gaming.models import (
    MONEY_KINDS,
    MONEY_PERIODS,
    Exclusion,
    GuardState,
    Kind,
    Limit,
    LimitChange,
    Period,
    RunningTotal,
)
from apps.responsible_gaming.periods import ROLLING_BUCKET, add_months, period_end, window_of
from apps.tenants.exceptions import AccessDenied
from apps.tenants.permissions import user_can
from apps.wallet.selectors import ledger_sums

MAX_LIMIT = 10**15


def _is_self(actor, player: Player) -> bool:
    return isinstance(actor, Player) and actor.pk == player.pk


def _authorise(actor, player: Player, reason: str) -> str:
    """The player themselves, staff with set_limits on the brand, or a system actor (a
    BeAware rule a compliance officer wrote, acting on their authority); all but the
    player give a reason."""
    reason = (reason or "").strip()
    if _is_self(actor, player):
        return reason[:500]
    if isinstance(actor, Actor) and actor.kind == "system":
        if not reason:
            raise LimitRefused("A reason is required.", code="reason_required")
        return reason[:500]
    if not user_can(actor, "responsible_gaming.set_limits", brand_id=player.brand_id):
        raise AccessDenied("You may not change this player's responsible-gaming settings.")
    if not reason:
        raise LimitRefused("A reason is required.", code="reason_required")
    return reason[:500]


# --- the guard's state ---------------------------------------------------------------------


def _figure(kind: str, sums: dict) -> int:
    if kind == Kind.DEPOSIT:
        return sums["deposit"]
    if kind == Kind.WAGER:
        return sums["bet"] - sums["bet_reversed"]
    return sums["bet"] - sums["win"] - sums["bet_reversed"] + sums["win_reversed"]


def ledger_figure(*, player_id: int, kind: str, currency: str, start, end) -> int:
    """The ledger's deposit, wager or loss figure of a player in [start, end)."""
    return _figure(kind, ledger_sums(player_id=player_id, currency=currency, start=start, end=end))


def _totals_start(player: Player, kind: str, period: str, span: str, tz: str, now) -> None:
    """Start keeping a total: the current window's rows, from the ledger (under the guard lock)."""
    window = window_of(period, now, window=span, tz=tz)
    step = ROLLING_BUCKET[period] if span == "rolling" else window.end - window.start
    start = window.window_start
    while start < window.end:
        end = start + step
        RunningTotal.objects.update_or_create(
            player=player,
            kind=kind,
            period=period,
            period_start=start,
            currency=player.currency_id,
            defaults={
                "span": span,
                "period_end": end,
                "total": ledger_figure(
                    player_id=player.pk, kind=kind, currency=player.currency_id, start=start, end=end
                ),
            },
        )
        start = end


def guard_state_refresh(player: Player, *, now=None) -> GuardState:
    """Rewrite the player's GuardState from their limits and exclusions; start new totals.

    Call with the guard lock held (inside the changing transaction).
    """
    now = now or timezone.now()
    rules = rules_for_brand(player.brand_id)
    old = GuardState.objects.filter(player=player).first()
    old_limits = (old.limits if old else {}) or {}
    money = {}
    for limit in Limit.objects.filter(player=player, kind__in=MONEY_KINDS):
        money.setdefault(limit.kind, {})[limit.period] = limit.amount
    limits = {}
    if money:
        limits = {
            "span": old_limits.get("span") or rules.get("limits.periods"),
            "tz": old_limits.get("tz") or rules.get("timezone"),
            "currency": player.currency_id,
            **money,
        }
    active = []
    for exclusion in Exclusion.objects.filter(player=player).filter(
        Q(ends_at__isnull=True) | Q(ends_at__gt=now - timedelta(hours=24 * 366))
    ):
        blocked_until = exclusion.blocked_until
        if blocked_until is None or blocked_until > now:
            active.append((exclusion.kind, blocked_until))
    code, until = "", None
    if active:
        code = "self_excluded" if any(k == Exclusion.Kind.SELF_EXCLUSION for k, _ in active) else "timed_out"
        ends = [u for _, u in active]
        until = None if None in ends else max(ends)
    for kind in MONEY_KINDS:
        for period in MONEY_PERIODS:
            was = period in (old_limits.get(kind) or {})
            now_tracked = period in (limits.get(kind) or {})
            if now_tracked and not was:
                _totals_start(player, kind, period, limits["span"], limits["tz"], now)
            elif was and not now_tracked:
                # No longer kept: drop the current window's rows (past ones stay, complete).
                RunningTotal.objects.filter(
                    player=player, kind=kind, period=period, period_end__gt=now
                ).delete()
    state, _ = GuardState.objects.update_or_create(
        player=player,
        defaults={
            "brand_id": player.brand_id,
            "blocked_code": code,
            "blocked_until": until if code else None,
            "limits": limits,
            "updated_at": now,
        },
    )
    return state


# --- limits ---------------------------------------------------------------------------------


def _limit_validate(kind, period, amount) -> None:
    if kind not in Kind.values:
        raise LimitRefused(f"Unknown limit kind {kind!r}.", code="invalid_kind")
    periods = (Period.SESSION,) if kind == Kind.SESSION else MONEY_PERIODS
    if period not in periods:
        raise LimitRefused(f"A {kind} limit is per {', '.join(periods)}.", code="invalid_period")
    if amount is not None and (
        isinstance(amount, bool) or not isinstance(amount, int) or not 0 <= amount <= MAX_LIMIT
    ):
        raise LimitRefused(
            "A limit is a whole number of minor units (minutes for sessions).", code="invalid_amount"
        )


def _change_record(player, kind, period, old, new, *, status, effective_at, rule, actor, reason, now):
    change = LimitChange.objects.create(
        player=player,
        brand_id=player.brand_id,
        kind=kind,
        period=period,
        old_amount=old,
        new_amount=new,
        currency="" if kind == Kind.SESSION else player.currency_id,
        status=status,
        effective_at=effective_at,
        rule=rule,
        requested_by=actor_label(actor),
        reason=reason,
        created_at=now,
        decided_at=now if status == LimitChange.Status.APPLIED else None,
    )
    _change_publish(change, actor)
    return change


def _change_publish(change: LimitChange, actor) -> None:
    publish(
        events.LimitChanged(
            change_id=change.pk,
            player_id=change.player_id,
            brand_id=change.brand_id,
            kind=change.kind,
            period=change.period,
            old_amount=change.old_amount,
            new_amount=change.new_amount,
            currency=change.currency,
            status=change.status,
            effective_at=change.effective_at.isoformat(),
            reason=change.reason,
        ),
        actor=actor,
    )


def _limit_write(player: Player, kind: str, period: str, amount: int | None, actor, reason: str, now) -> None:
    if amount is None:
        Limit.objects.filter(player=player, kind=kind, period=period).delete()
        return
    Limit.objects.update_or_create(
        player=player,
        kind=kind,
        period=period,
        defaults={
            "brand_id": player.brand_id,
            "amount": amount,
            "currency": "" if kind == Kind.SESSION else player.currency_id,
            "set_by": actor_label(actor),
            "reason": reason,
            "updated_at": now,
        },
    )


def limit_set(
    *,
    actor,
    player: Player,
    kind: str,
    period: str,
    amount: int | None,
    reason: str = "",
    only_lower: bool = False,
) -> LimitChange | None:
    """Set, lower, raise or remove (amount=None) one limit of a player.

    Lowering (or a first limit) applies at once; raising or removing is scheduled for the
    pack's cooling-off and can be cancelled until then. A new request replaces a pending
    one of the same limit. Removing a limit the pack requires is refused. Publishes
    LimitChanged (status applied or pending). With `only_lower` (a risk decision), a
    limit already at or below `amount` is kept as it is and None is returned; decided
    under the guard lock, so a limit the player lowered meanwhile is never raised.
    """
    reason = _authorise(actor, player, reason)
    _limit_validate(kind, period, amount)
    rules = rules_for_brand(player.brand_id)
    if (
        amount is None
        and kind == Kind.DEPOSIT
        and period in (rules.get("limits.required_deposit_periods") or [])
    ):
        raise LimitRefused(
            f"A deposit limit per {period} is required here"
            f" ({rules.source_of('limits.required_deposit_periods')}).",
            code="limit_required",
        )
    now = timezone.now()
    with transaction.atomic(), audit_as(actor):
        guard_lock(player.pk)
        current = Limit.objects.filter(player=player, kind=kind, period=period).first()
        old = current.amount if current else None
        if only_lower and (amount is None or (old is not None and old <= amount)):
            return None
        for pending in LimitChange.objects.select_for_update().filter(
            player=player, kind=kind, period=period, status=LimitChange.Status.PENDING
        ):
            pending.status, pending.decided_at = LimitChange.Status.CANCELLED, now
            pending.save(update_fields=["status", "decided_at"])
            _change_publish(pending, actor)
        tighter = amount is not None and (old is None or amount <= old)
        if tighter:
            _limit_write(player, kind, period, amount, actor, reason, now)
            change = _change_record(
                player,
                kind,
                period,
                old,
                amount,
                status=LimitChange.Status.APPLIED,
                effective_at=now,
                rule="limits: decreases take effect at once",
                actor=actor,
                reason=reason,
                now=now,
            )
            guard_state_refresh(player, now=now)
            return change
        hours = rules.get("limits.increase_cooling_off_hours")
        effective_at, rule = now + timedelta(hours=hours), "limits.increase_cooling_off_hours"
        if rules.get("limits.increase_not_before_period_end") and kind != Kind.SESSION:
            end = period_end(period, now, window=rules.get("limits.periods"), tz=rules.get("timezone"))
            if end > effective_at:
                effective_at, rule = end, "limits.increase_not_before_period_end"
        return _change_record(
            player,
            kind,
            period,
            old,
            amount,
            status=LimitChange.Status.PENDING,
            effective_at=effective_at,
            rule=f"{rules.source_of(rule)}: {rule}",
            actor=actor,
            reason=reason,
            now=now,
        )


def limit_change_cancel(*, actor, change: LimitChange, reason: str = "") -> LimitChange:
    """Cancel a pending increase (the player, or staff with a reason). Idempotent on cancelled."""
    reason = _authorise(actor, change.player, reason)
    with transaction.atomic(), audit_as(actor):
        locked = LimitChange.objects.select_for_update().get(pk=change.pk)
        if locked.status == LimitChange.Status.CANCELLED:
            return locked
        if locked.status != LimitChange.Status.PENDING:
            raise LimitRefused("This change has already been applied.", code="not_pending")
        locked.status, locked.decided_at = LimitChange.Status.CANCELLED, timezone.now()
        locked.reason = (
            (locked.reason + " | cancelled: " + reason).strip(" |")[:500] if reason else locked.reason
        )
        locked.save(update_fields=["status", "decided_at", "reason"])
        _change_publish(locked, actor)
    return locked


def limits_apply_due(*, now=None, actor=None) -> int:
    """Apply every pending change whose time has come; returns how many. Safe to run
    concurrently and repeatedly (each change is claimed with SKIP LOCKED, once)."""
    from apps.core.actors import system_actor

    actor = actor or system_actor("rg-limits")
    now = now or timezone.now()
    applied = 0
    due = LimitChange.objects.filter(status=LimitChange.Status.PENDING, effective_at__lte=now).values_list(
        "pk", flat=True
    )
    for change_id in list(due[:1000]):
        with transaction.atomic(), audit_as(actor):
            change = (
                LimitChange.objects.select_for_update(skip_locked=True)
                .select_related("player")
                .filter(pk=change_id, status=LimitChange.Status.PENDING)
                .first()
            )
            if change is None:
                continue
            guard_lock(change.player_id)
            _limit_write(
                change.player, change.kind, change.period, change.new_amount, actor, change.reason, now
            )
            change.status, change.decided_at = LimitChange.Status.APPLIED, now
            change.save(update_fields=["status", "decided_at"])
            _change_publish(change, actor)
            guard_state_refresh(change.player, now=now)
            applied += 1
    return applied


def default_limits_apply(*, player: Player) -> int:
    """Set the pack's default deposit limits (DE: 1,000 EUR a month) the player has not set."""
    from apps.core.models import Currency

    rules = rules_for_brand(player.brand_id)
    defaults = rules.get("limits.default_deposit_limits") or {}
    if not defaults:
        return 0
    exponent = Currency.objects.values_list("exponent", flat=True).get(code=player.currency_id)
    made = 0
    for period, major in sorted(defaults.items()):
        if Limit.objects.filter(player=player, kind=Kind.DEPOSIT, period=period).exists():
            continue
        limit_set(
            actor=player,
            player=player,
            kind=Kind.DEPOSIT,
            period=period,
            amount=int(Decimal(major) * 10**exponent),
            reason=f"default of {rules.source_of('limits.default_deposit_limits.' + period)}",
        )
        made += 1
    return made


# --- time-outs, self-exclusion, closure, reality checks --------------------------------------


def _exclusion_publish(exclusion: Exclusion, actor) -> None:
    publish(
        events.ExclusionStarted(
            exclusion_id=exclusion.pk,
            player_id=exclusion.player_id,
            brand_id=exclusion.brand_id,
            kind=exclusion.kind,
            scope=exclusion.scope,
            ends_at=exclusion.ends_at.isoformat() if exclusion.ends_at else None,
            reason=exclusion.reason,
        ),
        actor=actor,
    )


def timeout_start(*, actor, player: Player, hours: int, reason: str = "") -> Exclusion:
    """A time-out (cool-off) of `hours`, within the pack's time_out.min_hours..max_hours.

    It cannot be ended early. Publishes ExclusionStarted.
    """
    reason = _authorise(actor, player, reason)
    rules = rules_for_brand(player.brand_id)
    low, high = rules.get("time_out.min_hours"), rules.get("time_out.max_hours")
    if isinstance(hours, bool) or not isinstance(hours, int) or not low <= hours <= high:
        raise ExclusionRefused(f"A time-out lasts {low} to {high} hours.", code="invalid_duration")
    now = timezone.now()
    with transaction.atomic(), audit_as(actor):
        guard_lock(player.pk)
        exclusion = Exclusion.objects.create(
            player=player,
            brand_id=player.brand_id,
            kind=Exclusion.Kind.TIMEOUT,
            starts_at=now,
            ends_at=now + timedelta(hours=hours),
            requested_by=actor_label(actor),
            reason=reason,
        )
        guard_state_refresh(player, now=now)
        _exclusion_publish(exclusion, actor)
    return exclusion


def same_person_accounts(player: Player):
    """The person's accounts on every brand of the operator (same national id, or same
    email and date of birth), this one included."""
    match = Q(email__iexact=player.email, date_of_birth=player.date_of_birth)
    if player.national_id:
        match |= Q(national_id=player.national_id)
    return Player.objects.filter(brand__operator_id=player.brand.operator_id).filter(match | Q(pk=player.pk))


def self_exclusion_start(
    *, actor, player: Player, months: int | None, all_brands: bool = False, reason: str = ""
) -> Exclusion:
    """Self-exclude for `months` (at least the pack's self_exclusion.min_months) or
    indefinitely (months=None, where the pack allows it); of this brand or of every brand of
    the operator (one row per account of the person). It cannot be ended early; when it
    ends, play resumes after the pack's self_exclusion.relax_cooling_off_hours."""
    reason = _authorise(actor, player, reason)
    rules = rules_for_brand(player.brand_id)
    minimum = rules.get("self_exclusion.min_months")
    if months is None:
        if not rules.get("self_exclusion.indefinite_allowed"):
            raise ExclusionRefused(
                "An indefinite self-exclusion is not offered here.", code="invalid_duration"
            )
    elif isinstance(months, bool) or not isinstance(months, int) or not minimum <= months <= 120:
        raise ExclusionRefused(
            f"A self-exclusion lasts {minimum} to 120 months, or indefinitely.", code="invalid_duration"
        )
    now = timezone.now()
    ends_at = None if months is None else add_months(now, months)
    accounts = list(same_person_accounts(player).order_by("pk")) if all_brands else [player]
    origin = None
    with transaction.atomic(), audit_as(actor):
        for account in accounts:  # in id order: a fixed lock order
            guard_lock(account.pk)
        for account in [player] + [a for a in accounts if a.pk != player.pk]:
            exclusion = Exclusion.objects.create(
                player=account,
                brand_id=account.brand_id,
                kind=Exclusion.Kind.SELF_EXCLUSION,
                scope=Exclusion.Scope.OPERATOR if all_brands else Exclusion.Scope.BRAND,
                origin=origin,
                starts_at=now,
                ends_at=ends_at,
                cooling_off_hours=rules_for_brand(account.brand_id).get(
                    "self_exclusion.relax_cooling_off_hours"
                )
                or 0,
                requested_by=actor_label(actor),
                reason=reason,
            )
            origin = origin or exclusion
            guard_state_refresh(account, now=now)
            _exclusion_publish(exclusion, actor)
    return origin


def reality_check_set(*, actor, player: Player, minutes: int | None, reason: str = "") -> GuardState:
    """The interval of reality-check reminders (None: the pack's default; required packs
    refuse switching them off by answering with the default)."""
    reason = _authorise(actor, player, reason)
    if minutes is not None and (
        isinstance(minutes, bool) or not isinstance(minutes, int) or not 5 <= minutes <= 1440
    ):
        raise LimitRefused("A reality-check interval is 5 to 1440 minutes.", code="invalid_amount")
    with transaction.atomic(), audit_as(actor):
        guard_lock(player.pk)
        state = guard_state_refresh(player)
        state.reality_check_minutes = minutes
        state.save(update_fields=["reality_check_minutes"])
        publish(
            events.RealityCheckChanged(player_id=player.pk, brand_id=player.brand_id, minutes=minutes),
            actor=actor,
        )
    return state


def account_close(*, actor, player: Player, reason: str = "") -> Player:
    """Close the account (players' status transition; the guard then refuses play and deposits)."""
    reason = _authorise(actor, player, reason) or "closed by the player"
    return player_status_apply(actor=actor, player=player, transition="close", reason=reason)
