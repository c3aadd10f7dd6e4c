"""manage.py hub88_keys and game_session_open, and the games part of the demo."""

import io

import pytest
from auditlog.models import LogEntry
from django.core.management import CommandError, call_command

from apps.games import demo
from apps.games.models import Game
from apps.games.providers.hub88 import signing
from apps.games.providers.hub88.models import Hub88Integration
from apps.games.services import game_session_by_token
from tests.factories import BrandFactory

pytestmark = pytest.mark.django_db


def _run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_hub88_keys_sets_the_keys_and_prints_only_the_public_key(hub88_brand, keys, tmp_path):
    key_file = tmp_path / "hub88.pub"
    key_file.write_text(keys.hub88_public)
    out = _run(
        "hub88_keys",
        "--brand",
        hub88_brand.code,
        "--hub88-public-key",
        str(key_file),
        "--generate-operator-key",
        "--activate",
    )
    integration = Hub88Integration.objects.get(brand=hub88_brand)
    assert integration.active
    assert integration.hub88_public_key == keys.hub88_public
    operator_public = signing.public_key_pem_from_private(integration.operator_private_key)
    assert operator_public.strip() in out
    assert signing.public_key_fingerprint(keys.hub88_public) in out
    assert "PRIVATE" not in out
    for line in integration.operator_private_key.strip().splitlines()[1:-1]:
        assert line not in out
    # and the change is in the audit log, the private key masked
    entry = LogEntry.objects.get_for_object(integration).get()
    assert entry.changes_dict["operator_private_key"] == ["None", "•••"]


def test_hub88_keys_without_a_public_key_cannot_activate(hub88_brand):
    with pytest.raises(CommandError, match="needs Hub88's public key"):
        _run("hub88_keys", "--brand", hub88_brand.code, "--generate-operator-key", "--activate")
    assert Hub88Integration.objects.count() == 0


def test_hub88_keys_refuses_an_unknown_brand_and_a_bad_key_file(hub88_brand, tmp_path):
    with pytest.raises(CommandError, match="No brand"):
        _run("hub88_keys", "--brand", "no-such-brand")
    bad = tmp_path / "bad.pub"
    bad.write_text("hello")
    with pytest.raises(CommandError, match="Not a PEM public key"):
        _run("hub88_keys", "--brand", hub88_brand.code, "--hub88-public-key", str(bad))
    assert Hub88Integration.objects.count() == 0


def test_game_session_open_prints_a_working_token(player, game):
    out = _run("game_session_open", "--player", str(player.pk), "--game", game.code, "--currency", "EUR")
    token = out.strip()
    session = game_session_by_token(token)
    assert session is not None
    assert (session.player, session.game, session.wallet.currency_id) == (player, game, "EUR")


def test_game_session_open_refuses_what_the_service_refuses(player, game):
    with pytest.raises(CommandError, match="currency_not_offered"):
        _run("game_session_open", "--player", str(player.pk), "--game", game.code, "--currency", "SEK")
    with pytest.raises(CommandError, match="No hub88 game"):
        _run("game_session_open", "--player", str(player.pk), "--game", "nope")


def test_demo_seed_twice_creates_games_and_integrations_once(operator):
    brands = {
        code: BrandFactory(operator=operator, code=code, currencies=["EUR"])
        for code in ("demo-one", "demo-two")
    }
    context = {"brands": brands, "logins": []}
    demo.seed(context)
    first = (
        list(Game.objects.order_by("pk").values()),
        list(Hub88Integration.objects.order_by("pk").values()),
        LogEntry.objects.count(),
    )
    demo.seed(context)
    assert (
        list(Game.objects.order_by("pk").values()),
        list(Hub88Integration.objects.order_by("pk").values()),
        LogEntry.objects.count(),
    ) == first
    assert Game.objects.filter(provider="hub88").count() == len(demo.GAMES)
    for integration in Hub88Integration.objects.all():
        assert integration.active
        signing.private_key_check(integration.operator_private_key)
        signing.public_key_normalise(integration.hub88_public_key)
    assert "Hub88: 5 demo games" in context["logins"][0]
