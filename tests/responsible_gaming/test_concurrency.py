"""Limits under real concurrency: threads on their own PostgreSQL connections, released together."""

import pytest

from apps.responsible_gaming import services
from apps.responsible_gaming.exceptions import LimitReached
from apps.responsible_gaming.models import RunningTotal
from apps.responsible_gaming.reconciliation import totals_reconcile
from apps.wallet.models import LedgerTransaction, Wallet
from tests.factories import BrandFactory, PlayerFactory
from tests.responsible_gaming.conftest import bet, deposit, wallet_of
from tests.wallet.test_concurrency import _one_race_at_a_time, run_together  # noqa: F401 - fixture

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 32


@pytest.mark.parametrize(
    "jurisdiction, currency", [("DE", "EUR"), ("GB", "GBP")], ids=["calendar", "rolling"]
)
def test_32_concurrent_deposits_never_exceed_the_limit(operator, jurisdiction, currency):
    brand = BrandFactory(
        operator=operator,
        code=f"race-{jurisdiction.lower()}",
        jurisdiction=jurisdiction,
        currencies=[currency],
    )
    player = PlayerFactory(brand=brand)
    services.limit_set(actor=player, player=player, kind="deposit", period="day", amount=1_000)
    wallet_of(player)

    outcomes = run_together([lambda: deposit(player, 70) for _ in range(THREADS)])

    accepted = [value for kind, value in outcomes if kind == "ok"]
    refused = [value for kind, value in outcomes if kind == "error"]
    assert all(isinstance(error, LimitReached) for error in refused), refused
    assert len(accepted) == 1_000 // 70 == 14
    assert Wallet.objects.get(player=player).cash == 14 * 70
    assert LedgerTransaction.objects.filter(wallet__player=player, kind="deposit").count() == 14
    assert (
        sum(RunningTotal.objects.filter(player=player, kind="deposit").values_list("total", flat=True)) == 980
    )
    assert totals_reconcile()[1] == []


def test_a_limit_set_while_bets_are_in_flight_counts_every_one_of_them(operator):
    brand = BrandFactory(operator=operator, code="race-mt", jurisdiction="MT", currencies=["EUR"])
    player = PlayerFactory(brand=brand)
    deposit(player, 100_000)

    def set_limit():
        return services.limit_set(actor=player, player=player, kind="wager", period="month", amount=50_000)

    calls = [lambda: bet(player, 100) for _ in range(20)]
    calls.insert(10, set_limit)
    outcomes = run_together(calls)

    assert all(kind == "ok" for kind, _ in outcomes), outcomes
    total = RunningTotal.objects.get(player=player, kind="wager", period="month").total
    assert total == 20 * 100  # every bet, whether it committed before or after the limit
    assert totals_reconcile()[1] == []
