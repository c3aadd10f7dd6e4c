"""Fixtures of the payments tests: a GB brand (GBP) with a verified player who has money,
staff in each payments role, and short helpers to start deposits and withdrawals."""

import pytest

from apps.core.actors import system_actor
from apps.payments import services
from apps.payments.models import ReviewPolicy
from apps.wallet.services import deposit_credit, wallet_get_or_create
from tests.factories import PlayerFactory

PROVIDER = system_actor("test-provider")
# 1,000.00 GBP of cash before each test.
STARTING_CASH = 100_000


@pytest.fixture
def policy(brand):
    """The brand's review policy: four eyes above 1,000.00 GBP; nothing else set."""
    return ReviewPolicy.objects.create(brand=brand, four_eyes_above={"GBP": "1000.00"})


@pytest.fixture
def player(brand):
    return PlayerFactory(brand=brand, kyc_status="verified")


@pytest.fixture
def funded_wallet(player):
    wallet = wallet_get_or_create(player=player, currency_code="GBP")
    deposit_credit(
        wallet=wallet, amount=STARTING_CASH, source="test", external_id=f"fund-{player.pk}", actor=PROVIDER
    )
    return wallet


@pytest.fixture
def reviewer(make_staff, brand):
    return make_staff("Payments reviewer", brands=[brand])


@pytest.fixture
def second_reviewer(make_staff, brand):
    return make_staff("Payments reviewer", brands=[brand])


@pytest.fixture
def compliance_officer(make_staff, brand):
    return make_staff("Compliance officer", brands=[brand])


@pytest.fixture
def outsider(make_staff, other_brand):
    """A compliance officer of another operator's brand."""
    return make_staff("Compliance officer", brands=[other_brand])


@pytest.fixture
def deposit(player):
    def make(amount=5_000, **kwargs):
        kwargs.setdefault("method", "card")
        kwargs.setdefault("card_type", "debit")
        kwargs.setdefault("provider", "paymentiq")
        return services.deposit_initiate(
            player=player, amount=amount, currency="GBP", actor=PROVIDER, **kwargs
        )

    return make


@pytest.fixture
def withdrawal(player, funded_wallet):
    def make(amount=5_000, **kwargs):
        kwargs.setdefault("method", "card")
        kwargs.setdefault("provider", "paymentiq")
        return services.withdrawal_request(
            player=player, amount=amount, currency="GBP", actor=PROVIDER, **kwargs
        )

    return make
