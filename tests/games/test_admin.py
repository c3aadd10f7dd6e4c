"""Games admin: keys write-only, tokens never shown, every list scoped to the user's brands."""

from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Permission
from django.test import Client

from apps.core.actors import system_actor
from apps.games.models import GameSession, Round
from apps.games.providers.hub88 import signing
from apps.games.providers.hub88.models import Hub88Integration
from apps.games.services import game_session_open
from tests.factories import BrandFactory, OperatorFactory, PlayerFactory, StaffUserFactory
from tests.helpers.staff import staff_login

pytestmark = pytest.mark.django_db

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _signed_in(user) -> Client:
    client = Client()
    staff_login(client, user)
    return client


def _pem_body(pem: str) -> list[str]:
    """The full base64 lines of a PEM: what a page must not contain to not show the key.
    (The last, short line is left out: every RSA public key ends in the same exponent.)"""
    return [line for line in pem.strip().splitlines() if len(line) == 64]


def _staff(*, brands, perms):
    user = StaffUserFactory(operator=brands[0].operator if brands else None, brands=brands)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="games", codename__in=perms))
    return user


@pytest.fixture
def session_and_token(player, game, wallet, integration):
    return game_session_open(
        player=player, game=game, currency_code="EUR", actor=system_actor("test"), ttl=timedelta(hours=1)
    )


# --- Hub88 integration: keys are write-only -------------------------------------------------


def test_the_integration_page_shows_fingerprints_never_keys(superuser, integration, keys):
    page = _signed_in(superuser).get(f"/admin/games/hub88integration/{integration.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert signing.public_key_fingerprint(keys.hub88_public) in html
    assert "PRIVATE KEY" not in html
    for line in _pem_body(keys.operator_private) + _pem_body(keys.hub88_public):
        assert line not in html
    # The operator's public key is what Hub88 needs from us: it is shown
    assert _pem_body(keys.operator_public)[0] in html
    listing = _signed_in(superuser).get("/admin/games/hub88integration/").content.decode()
    assert ">set<" in listing
    assert "PRIVATE KEY" not in listing


def test_replacing_keys_in_the_admin_is_audited_without_the_private_key(superuser, integration, keys):
    new_private = signing.generate_private_key_pem()
    response = _signed_in(superuser).post(
        f"/admin/games/hub88integration/{integration.pk}/change/",
        {
            "active": "on",
            "new_hub88_public_key": keys.operator_public,
            "new_operator_private_key": new_private,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    integration.refresh_from_db()
    assert integration.hub88_public_key == keys.operator_public
    assert integration.operator_private_key.strip() == new_private.strip()
    entry = LogEntry.objects.get_for_object(integration).latest("timestamp")
    assert entry.actor == superuser
    assert entry.changes_dict["operator_private_key"] == ["•••", "•••"]
    assert entry.additional_data == {
        "operator_id": integration.brand.operator_id,
        "brand_id": integration.brand_id,
    }
    assert not any(line in str(entry.changes) for line in _pem_body(new_private))


def test_a_bad_key_is_refused_and_the_submitted_private_key_is_not_echoed(superuser, integration, keys):
    before = Hub88Integration.objects.values().get(pk=integration.pk)
    new_private = signing.generate_private_key_pem()
    response = _signed_in(superuser).post(
        f"/admin/games/hub88integration/{integration.pk}/change/",
        {"active": "on", "new_hub88_public_key": "not a key", "new_operator_private_key": new_private},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Not a PEM public key." in html
    assert not any(line in html for line in _pem_body(new_private))
    assert Hub88Integration.objects.values().get(pk=integration.pk) == before


def test_an_integration_added_with_a_generated_key(superuser, hub88_brand, keys):
    response = _signed_in(superuser).post(
        "/admin/games/hub88integration/add/",
        {
            "brand": hub88_brand.pk,
            "active": "on",
            "new_hub88_public_key": keys.hub88_public,
            "generate_operator_key": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    integration = Hub88Integration.objects.get(brand=hub88_brand)
    assert integration.active
    assert integration.operator_private_key.startswith("-----BEGIN PRIVATE KEY-----")


def test_an_active_integration_needs_both_keys(superuser, hub88_brand):
    response = _signed_in(superuser).post(
        "/admin/games/hub88integration/add/", {"brand": hub88_brand.pk, "active": "on"}
    )
    assert response.status_code == 200
    assert "An active integration needs" in response.content.decode()
    assert Hub88Integration.objects.count() == 0


# --- sessions and rounds: read-only, scoped -------------------------------------------------


def test_the_session_page_never_shows_the_token_or_its_hash(superuser, session_and_token):
    session, token = session_and_token
    client = _signed_in(superuser)
    for url in ["/admin/games/gamesession/", f"/admin/games/gamesession/{session.pk}/change/"]:
        html = client.get(url).content.decode()
        assert token not in html
        assert session.token_hash not in html
    assert client.post(f"/admin/games/gamesession/{session.pk}/delete/").status_code == 403


@pytest.fixture
def other_tenant_rows(game, keys):
    """A session and a round of another operator's brand."""
    brand = BrandFactory(operator=OperatorFactory(code="bravo-ops"), code="bravo-casino", currencies=["EUR"])
    player = PlayerFactory(brand=brand, username="bravo-player")
    session, _ = game_session_open(
        player=player, game=game, currency_code="EUR", actor=system_actor("test"), ttl=timedelta(hours=1)
    )
    game_round = Round.objects.create(
        provider="hub88", round_ref="bravo-round", wallet=session.wallet, brand=brand
    )
    integration = Hub88Integration.objects.create(brand=brand)
    return session, game_round, integration


@pytest.mark.parametrize(
    "model, perm",
    [
        ("gamesession", "view_gamesession"),
        ("round", "view_round"),
        ("hub88integration", "view_hub88integration"),
    ],
)
def test_staff_see_their_brands_rows_only(model, perm, hub88_brand, session_and_token, other_tenant_rows):
    own_session, _ = session_and_token
    own_round = Round.objects.create(
        provider="hub88", round_ref="own-round", wallet=own_session.wallet, brand=hub88_brand
    )
    own = {"gamesession": own_session, "round": own_round, "hub88integration": hub88_brand.hub88_integration}
    other_session, other_round, other_integration = other_tenant_rows
    other = {"gamesession": other_session, "round": other_round, "hub88integration": other_integration}
    # A user of the brand with the permission
    viewer = _signed_in(_staff(brands=[hub88_brand], perms=[perm]))
    listing = viewer.get(f"/admin/games/{model}/")
    assert listing.status_code == 200
    assert list(listing.context["cl"].queryset) == [own[model]]
    assert viewer.get(f"/admin/games/{model}/{own[model].pk}/change/").status_code == 200
    # cannot open another brand's row by its id
    assert viewer.get(f"/admin/games/{model}/{other[model].pk}/change/").status_code == 302
    # A user of the brand without the permission
    assert _signed_in(_staff(brands=[hub88_brand], perms=[])).get(f"/admin/games/{model}/").status_code == 403


def test_the_catalogue_is_read_only_for_staff_who_are_not_platform_staff(hub88_brand, game):
    user = _staff(brands=[hub88_brand], perms=["view_game", "change_game"])
    client = _signed_in(user)
    assert client.get("/admin/games/game/").status_code == 200
    response = client.post(
        f"/admin/games/game/{game.pk}/change/",
        {"name": "Renamed", "product": "casino", "active": ""},
    )
    assert response.status_code == 403
    game.refresh_from_db()
    assert (game.name, game.active) == ("Dragon Rising", True)


def test_session_admin_counts_nothing_of_other_brands(hub88_brand, session_and_token, other_tenant_rows):
    viewer = _signed_in(_staff(brands=[hub88_brand], perms=["view_gamesession"]))
    page = viewer.get("/admin/games/gamesession/").content.decode()
    assert "bravo" not in page
    assert GameSession.objects.count() == 2


def test_an_integration_can_only_be_added_for_the_users_own_brands(hub88_brand, other_tenant_rows, keys):
    user = _staff(brands=[hub88_brand], perms=["add_hub88integration", "view_hub88integration"])
    client = _signed_in(user)
    form = client.get("/admin/games/hub88integration/add/").context["adminform"].form
    assert list(form.fields["brand"].queryset) == [hub88_brand]
    other_brand = other_tenant_rows[2].brand
    Hub88Integration.objects.filter(brand=other_brand).delete()
    response = client.post(
        "/admin/games/hub88integration/add/",
        {"brand": other_brand.pk, "new_hub88_public_key": keys.hub88_public},
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Hub88Integration.objects.filter(brand=other_brand).exists()
