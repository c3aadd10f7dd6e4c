"""compliance.check: one question, a stable code and the rule that decided, per action."""

import pytest

from apps import compliance
from apps.compliance.registers import client_get, register_client, unregister_client
from apps.responsible_gaming import services as rg
from tests.factories import PlayerFactory
from tests.responsible_gaming.conftest import bet, deposit

pytestmark = pytest.mark.django_db


@pytest.fixture
def gb(brand):
    return PlayerFactory(brand=brand, kyc_status="verified", marketing_opt_in=True)


@pytest.fixture
def se(other_brand):
    return PlayerFactory(brand=other_brand, kyc_status="verified", national_id="19900517-1239")


def test_an_unknown_action_is_a_programming_error(gb):
    with pytest.raises(ValueError, match="unknown action 'dance'"):
        compliance.check("dance", gb)


def test_a_verified_gb_player_may_deposit_by_debit_card(gb):
    decision = compliance.check("deposit", gb, amount=5_000, currency="GBP", payment_method="debit_card")

    assert (decision.allowed, decision.code, decision.review) == (True, "ok", False)


def test_gb_refuses_credit_cards(gb):
    decision = compliance.check("deposit", gb, amount=5_000, currency="GBP", payment_method="credit_card")

    assert (decision.allowed, decision.code, decision.rule) == (
        False,
        "payment_method_banned",
        "pack gb.yaml: payment_methods.banned",
    )


def test_gb_needs_kyc_before_deposit_and_play(brand):
    player = PlayerFactory(brand=brand, kyc_status="pending")

    assert compliance.check("deposit", player, amount=100).rule == "pack gb.yaml: kyc.before_deposit"
    assert compliance.check("bet", player, amount=100).code == "kyc_required"


def test_large_gb_deposits_go_to_review(gb):
    decision = compliance.check("deposit", gb, amount=170_000, currency="GBP")

    assert (decision.allowed, decision.review, decision.rule) == (
        True,
        True,
        "pack gb.yaml: aml.review_at.GBP",
    )


def test_a_deposit_over_the_remaining_limit_is_refused_before_it_reaches_the_wallet(gb):
    rg.limit_set(actor=gb, player=gb, kind="deposit", period="day", amount=10_000)
    deposit(gb, 8_000)

    assert compliance.check("deposit", gb, amount=2_000).allowed
    decision = compliance.check("deposit", gb, amount=2_001)
    assert (decision.code, decision.rule) == ("deposit_limit", "responsible_gaming.limit.deposit.day")


def test_timed_out_and_self_excluded_players_are_refused_login_deposit_and_bet(gb, se):
    rg.timeout_start(actor=gb, player=gb, hours=24)
    rg.self_exclusion_start(actor=se, player=se, months=6)

    for action in ("login", "deposit", "bet", "bonus_grant", "marketing_contact"):
        assert compliance.check(action, gb).code == "timed_out", action
        assert compliance.check(action, se).code == "self_excluded", action
    assert compliance.check("withdraw", se, amount=100).allowed  # they may always take their money out


def test_se_needs_day_week_and_month_deposit_limits_before_play(se):
    refused = compliance.check("bet", se, amount=100)
    assert (refused.code, refused.rule) == (
        "deposit_limit_required",
        "pack se.yaml: limits.required_deposit_periods",
    )
    assert compliance.check("deposit", se, amount=100).allowed  # required before play, not before paying in

    for period in ("day", "week", "month"):
        rg.limit_set(actor=se, player=se, kind="deposit", period=period, amount=100_000)

    assert compliance.check("bet", se, amount=100).allowed


def test_se_bonus_only_at_first_play(se):
    assert compliance.check("bonus_grant", se).allowed
    for period in ("day", "week", "month"):
        rg.limit_set(actor=se, player=se, kind="deposit", period=period, amount=100_000)
    deposit(se, 1_000)
    bet(se, 100)

    assert compliance.check("bonus_grant", se).code == "bonus_not_first_play"


def test_gb_wagering_requirement_at_most_10x(gb):
    assert compliance.check("bonus_grant", gb, wagering_multiplier=10).allowed
    assert compliance.check("bonus_grant", gb, wagering_multiplier=11).code == "bonus_wagering_cap"


def test_gb_stake_cap_is_answered_before_the_bet(gb):
    assert compliance.check("bet", gb, amount=500, product="casino").allowed
    decision = compliance.check("bet", gb, amount=501, product="casino")
    assert (decision.code, decision.rule) == ("stake_cap", "pack gb.yaml: stake_caps.casino.max")


def test_marketing_needs_opt_in_and_a_clear_register(gb, brand):
    assert compliance.check("marketing_contact", PlayerFactory(brand=brand)).code == "marketing_opt_out"
    assert compliance.check("marketing_contact", gb).allowed


def test_a_failing_register_fails_closed(se):
    real = client_get("spelpaus")

    @register_client("spelpaus")
    def broken(person, purpose):
        raise ConnectionError("down")

    try:
        decision = compliance.check("login", se)
    finally:
        # Put the real client back for the rest of the process (the exclusions app's).
        if real is None:
            unregister_client("spelpaus")
        else:
            register_client("spelpaus")(real)

    assert (decision.allowed, decision.code) == (False, "register_unavailable")


def test_raise_if_refused_gives_the_api_a_403(gb):
    from apps.compliance.exceptions import ComplianceRefused

    with pytest.raises(ComplianceRefused) as refused:
        compliance.check("deposit", gb, payment_method="credit_card").raise_if_refused()

    assert (refused.value.code, refused.value.http_status) == ("payment_method_banned", 403)
