"""Bad input gets a clear error and changes nothing: amounts, keys, currencies."""

from decimal import Decimal

import pytest

from apps.wallet import services
from apps.wallet.exceptions import InvalidAmount
from apps.wallet.models import HouseAccount, Wallet
from tests.factories import PlayerFactory
from tests.wallet.actions import BONUSES, GAME, PAYMENTS, PROVIDER, PSP, bet, rollback
from tests.wallet.ledger import snapshot

pytestmark = pytest.mark.django_db

NOT_INTEGERS = [True, False, 10.0, 10.5, Decimal("10"), "10", None]


def _call(name, wallet, amount):
    calls = {
        "deposit_credit": lambda: services.deposit_credit(
            wallet=wallet, amount=amount, source=PAYMENTS, external_id="k", actor=PSP
        ),
        "withdrawal_reserve": lambda: services.withdrawal_reserve(
            wallet=wallet, amount=amount, source=PAYMENTS, external_id="k", actor=PSP
        ),
        "withdrawal_release": lambda: services.withdrawal_release(
            wallet=wallet, amount=amount, source=PAYMENTS, external_id="k", actor=PSP
        ),
        "withdrawal_settle": lambda: services.withdrawal_settle(
            wallet=wallet, amount=amount, source=PAYMENTS, external_id="k", actor=PSP
        ),
        "bet_place": lambda: services.bet_place(
            wallet=wallet, amount=amount, source=GAME, external_id="k", actor=PROVIDER
        ),
        "win_settle": lambda: services.win_settle(
            wallet=wallet, amount=amount, source=GAME, external_id="k", bet_external_id="b-0", actor=PROVIDER
        ),
        "bonus_grant": lambda: services.bonus_grant(
            wallet=wallet, amount=amount, source=BONUSES, external_id="k", actor=PSP
        ),
        "bonus_forfeit": lambda: services.bonus_forfeit(
            wallet=wallet, amount=amount, source=BONUSES, external_id="k", actor=PSP
        ),
        "bonus_convert": lambda: services.bonus_convert(
            wallet=wallet, amount=amount, source=BONUSES, external_id="k", actor=PSP
        ),
    }
    return calls[name]()


ZERO_ALLOWED = {"bet_place", "win_settle"}  # a free spin, a losing round
SERVICES = [
    "deposit_credit",
    "withdrawal_reserve",
    "withdrawal_release",
    "withdrawal_settle",
    "bet_place",
    "win_settle",
    "bonus_grant",
    "bonus_forfeit",
    "bonus_convert",
]


@pytest.fixture
def rich_wallet(make_wallet):
    wallet = make_wallet(cash=10_000, bonus=10_000)
    services.withdrawal_reserve(wallet=wallet, amount=5_000, source=PAYMENTS, external_id="wd-0", actor=PSP)
    bet(wallet, 100, "b-0")
    return wallet


@pytest.mark.parametrize("name", SERVICES)
@pytest.mark.parametrize("amount", [-1, -10_000, *NOT_INTEGERS], ids=repr)
def test_negative_and_non_integer_amounts_are_refused_and_change_nothing(rich_wallet, name, amount):
    before = snapshot()

    with pytest.raises(InvalidAmount) as refused:
        _call(name, rich_wallet, amount)

    assert refused.value.code == "invalid_amount"
    assert snapshot() == before


@pytest.mark.parametrize("name", sorted(set(SERVICES) - ZERO_ALLOWED))
def test_zero_is_refused_where_it_means_nothing(rich_wallet, name):
    before = snapshot()

    with pytest.raises(InvalidAmount):
        _call(name, rich_wallet, 0)

    assert snapshot() == before


@pytest.mark.parametrize("name", sorted(ZERO_ALLOWED))
def test_zero_is_accepted_for_bets_and_wins(rich_wallet, name):
    result = _call(name, rich_wallet, 0)

    assert (result.replayed, result.amount) == (False, 0)


@pytest.mark.parametrize(("source", "external_id"), [("", "k-1"), (GAME, ""), ("", "")])
def test_an_idempotency_key_is_required(funded_wallet, source, external_id):
    before = snapshot()

    with pytest.raises(InvalidAmount) as refused:
        services.bet_place(
            wallet=funded_wallet, amount=100, source=source, external_id=external_id, actor=PROVIDER
        )

    assert refused.value.code == "idempotency_key_required"
    assert snapshot() == before


# --- wallets ----------------------------------------------------------------------------------


def test_a_wallet_is_made_on_first_use_with_the_brands_house_accounts(brand):
    player = PlayerFactory(brand=brand)

    wallet = services.wallet_get_or_create(player=player, currency_code="GBP")
    again = services.wallet_get_or_create(player=player, currency_code="GBP")

    assert again.pk == wallet.pk
    assert (wallet.player_id, wallet.brand_id, wallet.currency_id) == (player.pk, brand.pk, "GBP")
    assert (wallet.cash, wallet.bonus, wallet.reserved, wallet.debt, wallet.version) == (0, 0, 0, 0, 0)
    assert Wallet.objects.filter(player=player).count() == 1
    assert sorted(
        HouseAccount.objects.filter(brand=brand, currency_id="GBP").values_list("kind", flat=True)
    ) == sorted(HouseAccount.Kind.values)


def test_a_wallet_in_a_currency_the_brand_does_not_offer_is_refused(brand):
    player = PlayerFactory(brand=brand)

    with pytest.raises(InvalidAmount) as refused:
        services.wallet_get_or_create(player=player, currency_code="SEK")

    assert refused.value.code == "currency_not_offered"
    assert not Wallet.objects.filter(player=player).exists()
    assert not HouseAccount.objects.filter(brand=brand, currency_id="SEK").exists()


def test_a_player_may_hold_one_wallet_per_offered_currency(other_brand):
    player = PlayerFactory(brand=other_brand)

    sek = services.wallet_get_or_create(player=player, currency_code="SEK")
    eur = services.wallet_get_or_create(player=player, currency_code="EUR")

    assert sek.pk != eur.pk
    assert HouseAccount.objects.filter(brand=other_brand).count() == 2 * len(HouseAccount.Kind.values)


@pytest.mark.parametrize("target", ["", None])
def test_a_rollback_needs_the_id_of_its_target(funded_wallet, target):
    before = snapshot()

    with pytest.raises(InvalidAmount) as refused:
        rollback(funded_wallet, "rb-1", target)

    assert refused.value.code == "idempotency_key_required"
    assert snapshot() == before


@pytest.mark.parametrize(("source", "external_id"), [("", "rb-1"), (GAME, "")])
def test_a_rollback_needs_its_own_key_even_for_a_target_never_seen(funded_wallet, source, external_id):
    before = snapshot()

    with pytest.raises(InvalidAmount) as refused:
        services.transaction_rollback(
            wallet=funded_wallet,
            source=source,
            external_id=external_id,
            target_external_id="b-9",
            actor=PROVIDER,
        )

    assert refused.value.code == "idempotency_key_required"
    assert snapshot() == before  # not even the tombstone


BIGINT_MAX = 2**63 - 1


@pytest.mark.parametrize("name", SERVICES)
def test_an_amount_beyond_what_the_ledger_can_hold_is_refused(rich_wallet, name):
    before = snapshot()

    with pytest.raises(InvalidAmount) as refused:
        _call(name, rich_wallet, BIGINT_MAX + 1)

    assert refused.value.code == "invalid_amount"
    assert snapshot() == before


@pytest.mark.postgres  # the bigint overflow is PostgreSQL's to detect: SQLite turns it into a float
@pytest.mark.parametrize("credit", ["deposit_credit", "win_settle", "bonus_grant"])
def test_a_credit_that_would_take_a_balance_out_of_range_is_refused(rich_wallet, credit):
    before = snapshot()

    with pytest.raises(InvalidAmount) as refused:
        _call(credit, rich_wallet, BIGINT_MAX)

    assert refused.value.code == "amount_out_of_range"
    assert snapshot() == before
