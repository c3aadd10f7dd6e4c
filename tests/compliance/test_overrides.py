"""Brand overrides: tightening works (and reaches the wallet guard), loosening is refused,
versions are kept, and a compliance officer sees each effective value and its source."""

import pytest
from django.contrib.auth.backends import ModelBackend

from apps.compliance import services
from apps.compliance.exceptions import OverrideRefused
from apps.compliance.models import BrandRulesVersion
from apps.compliance.selectors import rules_for_brand
from apps.core.models import Event
from apps.responsible_gaming.exceptions import LimitReached
from apps.tenants.exceptions import AccessDenied
from tests.factories import PlayerFactory
from tests.helpers.staff import staff_login
from tests.responsible_gaming.conftest import bet, deposit

pytestmark = pytest.mark.django_db
MODEL_BACKEND = f"{ModelBackend.__module__}.{ModelBackend.__qualname__}"


@pytest.fixture
def brand_admin(make_staff, brand):
    return make_staff("Brand admin", brands=[brand])


def test_a_brand_tightens_the_gb_stake_cap_and_the_guard_enforces_it(brand, brand_admin):
    from apps.games.models import Game

    Game.objects.create(provider="hub88", code="slot", name="Slot", product="casino")
    player = PlayerFactory(brand=brand)
    deposit(player, 10_000)

    version = services.brand_rules_change(
        actor=brand_admin, brand=brand, overrides={"stake_caps.casino.max": "4.00"}, reason="brand policy"
    )

    rules = rules_for_brand(brand.pk)
    assert (version.version, rules.get("stake_caps.casino.max")) == (1, "4.00")
    assert rules.source_of("stake_caps.casino.max") == "brand override v1"
    assert rules.source_of("minimum_age") == "pack gb.yaml"
    bet(player, 400, game_ref="slot")
    with pytest.raises(LimitReached) as refused:
        bet(player, 401, game_ref="slot")
    assert refused.value.details["rule"] == "brand override v1: stake_caps.casino.max"
    event = Event.objects.get(type="compliance.brand_rules_changed")
    assert event.payload == {
        "brand_id": brand.pk,
        "version": 1,
        "overrides": {"stake_caps.casino.max": "4.00"},
        "reason": "brand policy",
    }


@pytest.mark.parametrize(
    "overrides, code, message",
    [
        ({"stake_caps.casino.max": "6.00"}, "loosening", "6.00 is higher"),
        ({"limits.increase_cooling_off_hours": 12}, "loosening", "12 is lower"),
        ({"minimum_age": 17}, "loosening", "17 is lower"),
        ({"kyc.before_deposit": False}, "loosening", "false would switch the rule off"),
        ({"payment_methods.banned": ["credit_card"]}, "loosening", "credit_card_ewallet cannot be removed"),
        ({"bonus.max_wagering_multiplier": 20}, "loosening", "20 is higher"),
        ({"aml.review_at.GBP": "5000.00"}, "loosening", "5000.00 is higher"),
        ({"timezone": "UTC"}, "unknown_rule", "cannot be overridden"),
        ({"stake_caps.bingo.max": "1.00"}, "unknown_rule", "no such stake cap"),
        ({"stake_caps.casino.max": 4}, "invalid_value", "decimal string"),
        ({"minimum_age": "21"}, "invalid_value", "whole number"),
    ],
)
def test_loosening_or_unknown_overrides_are_refused_and_nothing_is_saved(
    brand, brand_admin, overrides, code, message
):
    with pytest.raises(OverrideRefused) as refused:
        services.brand_rules_change(actor=brand_admin, brand=brand, overrides=overrides, reason="try")

    assert refused.value.code == code
    assert message in refused.value.message
    assert not BrandRulesVersion.objects.exists()
    assert rules_for_brand(brand.pk).overridden == {}


def test_each_change_is_a_new_version_and_the_newest_is_in_force(brand, brand_admin):
    services.brand_rules_change(actor=brand_admin, brand=brand, overrides={"minimum_age": 21}, reason="one")
    services.brand_rules_change(
        actor=brand_admin, brand=brand, overrides={"limits.increase_cooling_off_hours": 48}, reason="two"
    )

    rules = rules_for_brand(brand.pk)
    assert list(BrandRulesVersion.objects.filter(brand=brand).values_list("version", flat=True)) == [2, 1]
    assert (rules.get("minimum_age"), rules.get("limits.increase_cooling_off_hours")) == (18, 48)
    assert rules.source_of("limits.increase_cooling_off_hours") == "brand override v2"


def test_only_brand_admins_of_the_brand_change_its_rules(brand, other_brand, make_staff):
    for actor in (
        make_staff("Compliance officer", brands=[brand]),
        make_staff("Brand admin", brands=[other_brand]),
    ):
        with pytest.raises(AccessDenied):
            services.brand_rules_change(actor=actor, brand=brand, overrides={"minimum_age": 21}, reason="x")
    assert not BrandRulesVersion.objects.exists()


def test_the_admin_form_refuses_loosening_with_the_reason(client, brand, brand_admin):
    staff_login(client, brand_admin)

    response = client.post(
        "/admin/compliance/brandrulesversion/add/",
        {"brand": brand.pk, "overrides": '{"stake_caps.casino.max": "9.00"}', "reason": "more fun"},
    )

    assert response.status_code == 200
    assert "a brand may only tighten" in response.content.decode()
    assert not BrandRulesVersion.objects.exists()


def test_the_admin_form_saves_a_tightening(client, brand, brand_admin):
    staff_login(client, brand_admin)

    response = client.post(
        "/admin/compliance/brandrulesversion/add/",
        {
            "brand": brand.pk,
            "overrides": '{"reality_check.default_interval_minutes": 30}',
            "reason": "policy",
        },
    )

    assert response.status_code == 302
    version = BrandRulesVersion.objects.get()
    assert (version.version, version.created_by, version.overrides) == (
        1,
        brand_admin,
        {"reality_check.default_interval_minutes": 30},
    )


def test_a_compliance_officer_sees_the_effective_rules_and_their_sources(
    client, brand, brand_admin, make_staff
):
    services.brand_rules_change(
        actor=brand_admin, brand=brand, overrides={"minimum_age": 21}, reason="policy"
    )
    officer = make_staff("Compliance officer", brands=[brand])
    staff_login(client, officer)

    response = client.get(f"/admin/compliance/brandrulesversion/effective/{brand.pk}/")

    assert response.status_code == 200
    rows = {path: (value, source) for path, value, source in response.context["rows"]}
    assert rows["minimum_age"] == (21, "brand override v1")
    assert rows["limits.increase_cooling_off_hours"] == (24, "pack gb.yaml")
    assert rows["stake_caps.casino.max"] == ("5.00", "pack gb.yaml")


def test_another_brands_effective_rules_are_not_found(client, other_brand, make_staff, brand):
    officer = make_staff("Compliance officer", brands=[brand])
    staff_login(client, officer)

    assert client.get(f"/admin/compliance/brandrulesversion/effective/{other_brand.pk}/").status_code == 404
