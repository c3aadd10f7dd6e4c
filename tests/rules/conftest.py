"""Fixtures of the BeAware tests: a GB brand, a player, a compliance officer, rules made
through the services, and `emit`, which publishes real domain events (at a chosen time)
and runs their delivery as the outbox does after commit."""

import itertools
from datetime import UTC, datetime

import pytest
import time_machine
from django.db import transaction

from apps.core.actors import system_actor
from apps.core.events import publish
from apps.core.models import Event
from apps.payments.events import DepositCompleted, PaymentFailed, WithdrawalRequested
from apps.players.events import PlayerLoggedIn, PlayerLoginRefused
from apps.rules import catalogue, services
from apps.rules.engine import rule_cache
from apps.wallet.events import BetPlaced, TransactionRolledBack, WinSettled
from tests.factories import PlayerFactory

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)  # a Monday, 13:00 in London
_ids = itertools.count(1)


@pytest.fixture(autouse=True)
def _fresh_rule_cache():
    # The process keeps brand time zones and currency exponents by id; on SQLite a rolled-back
    # test's ids come again, so another test's brand 1 (another jurisdiction) must not answer.
    caches = (rule_cache.clear, catalogue._zone.cache_clear, catalogue._exponent.cache_clear)
    for clear in caches:
        clear()
    yield
    for clear in caches:
        clear()


@pytest.fixture
def player(brand):
    return PlayerFactory(brand=brand, username="alice")


@pytest.fixture
def officer(make_staff, brand):
    return make_staff("Compliance officer", brands=[brand])


@pytest.fixture
def make_rule(officer, brand):
    """make_rule(condition, triggers=[...], actions=[...], enabled=True, **fields): through
    the services, as a compliance officer would."""

    def make(condition, *, triggers=("payments.deposit_completed",), actions=None, enabled=True, **fields):
        fields.setdefault("name", f"rule {next(_ids)}")
        rule = services.rule_create(
            actor=officer,
            brand=brand,
            triggers=list(triggers),
            condition=condition,
            actions=actions or [{"type": "flag", "marker": "test_marker", "level": "high"}],
            **fields,
        )
        if enabled:
            services.rule_enabled_set(actor=officer, rule=rule, enabled=True)
        rule_cache.clear()
        return rule

    return make


def _money(event_class, player, amount, **extra):
    return event_class(
        transaction_id=next(_ids),
        wallet_id=1,
        player_id=player.pk,
        brand_id=player.brand_id,
        currency="GBP",
        amount=amount,
        cash=0,
        bonus=0,
        reserved=0,
        debt=0,
        **extra,
    )


def _payment(event_class, player, amount, kind="deposit", status="completed"):
    n = next(_ids)
    return event_class(
        payment_id=n,
        reference=f"P-{n}",
        kind=kind,
        player_id=player.pk,
        brand_id=player.brand_id,
        amount=amount,
        currency="GBP",
        method="card",
        provider="paymentiq",
        status=status,
    )


BUILDERS = {
    "deposit": lambda p, amount: _payment(DepositCompleted, p, amount),
    "deposit_failed": lambda p, amount: _payment(PaymentFailed, p, amount, status="failed"),
    "withdrawal_failed": lambda p, amount: _payment(
        PaymentFailed, p, amount, kind="withdrawal", status="failed"
    ),
    "withdrawal": lambda p, amount: _payment(
        WithdrawalRequested, p, amount, kind="withdrawal", status="requested"
    ),
    "bet": lambda p, amount: _money(BetPlaced, p, amount),
    "win": lambda p, amount: _money(WinSettled, p, amount),
    "rollback": lambda p, amount: _money(TransactionRolledBack, p, amount, reversed_kind="bet"),
    "win_rollback": lambda p, amount: _money(TransactionRolledBack, p, amount, reversed_kind="win"),
    "noop_rollback": lambda p, amount: _money(TransactionRolledBack, p, amount, reversed_kind=""),
    "login": lambda p, amount: PlayerLoggedIn(player_id=p.pk, brand_id=p.brand_id, ip="203.0.113.9"),
    "login_refused": lambda p, amount: PlayerLoginRefused(
        player_id=p.pk, brand_id=p.brand_id, reason="bad_password", ip="203.0.113.9"
    ),
}


@pytest.fixture
def emit(django_capture_on_commit_callbacks):
    """emit(kind, player, amount=0, at=T0) -> the Event row, delivered to every handler."""

    def send(kind, player, amount=0, *, at=T0):
        with (
            time_machine.travel(at, tick=False),
            django_capture_on_commit_callbacks(execute=True),
            transaction.atomic(),
        ):
            row = publish(BUILDERS[kind](player, amount), actor=system_actor("test"))
        return Event.objects.get(pk=row.pk)

    return send
