"""A new jurisdiction is one pack file: "Testland" (XX) is loaded from tests/compliance/packs/
only — no code, no migration — and its rules are enforced end to end: registration age and
register check, default deposit limit, stake cap in the wallet, cooling-off, time-out bounds,
banned payment methods, AML review, bonus wagering cap."""

from datetime import date, timedelta
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from apps import compliance
from apps.compliance.packs import BUILTIN_PACK_DIR
from apps.compliance.registers import register_client, unregister_client
from apps.games.models import Game
from apps.players.models import Player
from apps.responsible_gaming import services as rg
from apps.responsible_gaming.exceptions import ExclusionRefused, LimitReached
from apps.tenants.admin import BrandForm
from tests.responsible_gaming.conftest import bet, deposit

pytestmark = pytest.mark.django_db
FIXTURE_PACKS = Path(__file__).with_name("packs")


@pytest.fixture
def testland(settings, operator):
    settings.COMPLIANCE_PACK_DIRS = [str(BUILTIN_PACK_DIR), str(FIXTURE_PACKS)]
    from tests.factories import currency_get

    form = BrandForm(
        data={
            "operator": operator.pk,
            "code": "testland-casino",
            "name": "Testland Casino",
            "jurisdiction": "XX",
            "currencies": [currency_get("EUR").pk],
            "default_currency": "EUR",
            "active": True,
        }
    )
    assert form.is_valid(), form.errors
    return form.save()


@pytest.fixture
def testreg():
    """The register the pack names, faked: it excludes one email address."""
    asked = []

    @register_client("testreg")
    def check(person, purpose):
        asked.append((person.email, purpose))
        return person.email == "excluded@example.com"

    yield asked
    unregister_client("testreg")


def _register(brand, **changes):
    payload = {
        "brand": brand.code,
        "username": "tess",
        "email": "tess@example.com",
        "password": "correct-horse-battery",
        "first_name": "Tess",
        "last_name": "Land",
        "date_of_birth": "1990-01-02",
        "country": "NZ",
        "address_line": "1 Main Road",
        "city": "Testville",
        "postcode": "6011",
        "mobile": "+64 21 123 4567",
        **changes,
    }
    return APIClient().post("/api/v1/player/register", payload, format="json")


def test_a_brand_form_refuses_an_unknown_jurisdiction(operator):
    form = BrandForm(data={"operator": operator.pk, "code": "nowhere", "name": "N", "jurisdiction": "XX"})

    assert not form.is_valid()
    assert "jurisdiction" in form.errors


def test_testland_registration_needs_21_years_and_a_clear_register(testland, testreg):
    too_young = (date.today() - timedelta(days=21 * 365)).isoformat()

    young = _register(testland, date_of_birth=too_young)
    excluded = _register(testland, email="excluded@example.com")

    assert young.json()["error"] == {"code": "underage", "message": "Players must be at least 21 years old."}
    assert excluded.json()["error"]["code"] == "register_excluded"
    assert ("excluded@example.com", "registration") in testreg
    assert not Player.objects.filter(brand=testland).exists()


def test_testland_rules_are_enforced_end_to_end(testland, testreg, django_capture_on_commit_callbacks):
    Game.objects.create(provider="hub88", code="tl_slot", name="Testland Slot", product="casino")
    with django_capture_on_commit_callbacks(execute=True):
        response = _register(testland)
    assert response.status_code == 201, response.content
    player = Player.objects.get(pk=response.json()["id"])

    # The pack's default weekly deposit limit (300.00 EUR) was set at registration.
    deposit(player, 30_000)
    with pytest.raises(LimitReached) as refused:
        deposit(player, 1)
    assert refused.value.code == "deposit_limit"

    # Its stake cap (0.50 EUR on casino games), in the wallet.
    bet(player, 50, game_ref="tl_slot")
    with pytest.raises(LimitReached) as refused:
        bet(player, 51, game_ref="tl_slot")
    assert refused.value.details["rule"] == "pack xx.yaml: stake_caps.casino.max"

    # Its cooling-off (48 hours) for an increase.
    change = rg.limit_set(actor=player, player=player, kind="deposit", period="week", amount=40_000)
    assert (change.status, change.effective_at - change.created_at) == ("pending", timedelta(hours=48))

    # Its time-out bounds (48 to 96 hours).
    with pytest.raises(ExclusionRefused):
        rg.timeout_start(actor=player, player=player, hours=24)

    # compliance.check answers from the same pack.
    assert compliance.check("deposit", player, amount=100, currency="EUR", payment_method="crypto").code == (
        "payment_method_banned"
    )
    review = compliance.check("withdraw", player, amount=10_000, currency="EUR")
    assert (review.allowed, review.review, review.rule) == (
        False,
        False,
        "pack xx.yaml: kyc.before_withdrawal",
    )
    player.kyc_status = "verified"
    review = compliance.check("withdraw", player, amount=10_000, currency="EUR")
    assert (review.allowed, review.review) == (True, True)
    bonus = compliance.check("bonus_grant", player, wagering_multiplier=6)
    assert (bonus.code, bonus.rule) == ("bonus_wagering_cap", "pack xx.yaml: bonus.max_wagering_multiplier")
    login = compliance.check("login", player)
    assert login.allowed and ("tess@example.com", "login") in testreg
