"""Fixtures of the games tests: real RSA keys (made once per session), a brand with a Hub88
integration, a player with money, a game session, and `hub88`: Hub88 calling our wallet API
through HTTP with signed raw bodies, checking the signature of every answer it gets."""

import json
import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.test import Client

from apps.core.actors import system_actor
from apps.core.correlation import correlation_id_reset, correlation_id_set
from apps.core.models import Event
from apps.games.models import Game
from apps.games.providers.hub88 import signing
from apps.games.providers.hub88.models import Hub88Integration
from apps.games.services import game_session_open
from apps.wallet.models import LedgerEntry, LedgerTransaction, Wallet
from apps.wallet.services import deposit_credit
from tests.factories import BrandFactory, PlayerFactory

ENDPOINTS = {
    "info": "/integrations/hub88/user/info",
    "balance": "/integrations/hub88/user/balance",
    "bet": "/integrations/hub88/transaction/bet",
    "win": "/integrations/hub88/transaction/win",
    "rollback": "/integrations/hub88/transaction/rollback",
}
GAME_CODE = "clt_dragonrising"
# 100.00 EUR: the player's cash before each test.
STARTING_CASH = 10_000


def _key_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@dataclass(frozen=True)
class Keys:
    hub88_private: str
    hub88_public: str
    operator_private: str
    operator_public: str
    # Anyone else's key: what a forger would sign with.
    stranger_private: str


@pytest.fixture(scope="session")
def keys() -> Keys:
    hub88, operator, stranger = _key_pair(), _key_pair(), _key_pair()
    return Keys(hub88[0], hub88[1], operator[0], operator[1], stranger[0])


@pytest.fixture(autouse=True)
def _fresh_correlation_context():
    token = correlation_id_set(None)
    yield
    correlation_id_reset(token)


@pytest.fixture
def hub88_brand(operator):
    """A Maltese brand playing in EUR (and BTC), with an active Hub88 integration."""
    return BrandFactory(operator=operator, code="casino-mt", jurisdiction="MT", currencies=["EUR", "BTC"])


@pytest.fixture
def integration(hub88_brand, keys):
    return Hub88Integration.objects.create(
        brand=hub88_brand,
        hub88_public_key=keys.hub88_public,
        operator_private_key=keys.operator_private,
        active=True,
    )


@pytest.fixture
def game(db):
    return Game.objects.create(provider="hub88", code=GAME_CODE, name="Dragon Rising", product="casino")


@pytest.fixture
def player(hub88_brand):
    return PlayerFactory(brand=hub88_brand, username="hub88-player")


@pytest.fixture
def wallet(player) -> Wallet:
    """The player's EUR wallet with STARTING_CASH in it."""
    from apps.wallet.services import wallet_get_or_create

    wallet = wallet_get_or_create(player=player, currency_code="EUR")
    deposit_credit(
        wallet=wallet,
        amount=STARTING_CASH,
        source="test-deposit",
        external_id=f"deposit-{player.pk}",
        actor=system_actor("test"),
    )
    return wallet


@pytest.fixture
def token(player, game, wallet, integration) -> str:
    """A live game session's token (one hour)."""
    _session, token = game_session_open(
        player=player, game=game, currency_code="EUR", actor=system_actor("test"), ttl=timedelta(hours=1)
    )
    return token


@dataclass
class Reply:
    raw: bytes
    signature: str | None
    operator_public: str

    @property
    def body(self) -> dict:
        return json.loads(self.raw)

    @property
    def status(self) -> str:
        return self.body["status"]

    @property
    def signed(self) -> bool:
        return signing.verify(self.raw, self.signature, self.operator_public)


@pytest.fixture
def hub88(keys):
    """hub88(endpoint, payload) -> Reply: a POST as Hub88 makes it (raw body, signature header).

    raw= sends bytes as they are; sign_with= "hub88" (default), "stranger" or None (no
    header); signature= sends this header value instead. Every answer must be HTTP 200 JSON.
    """
    client = Client()

    def call(endpoint, payload=None, *, raw: bytes | None = None, sign_with="hub88", signature=None):
        body = raw if raw is not None else json.dumps(payload).encode()
        headers = {}
        if signature is not None:
            headers["X-Hub88-Signature"] = signature
        elif sign_with == "hub88":
            headers["X-Hub88-Signature"] = signing.sign(body, keys.hub88_private)
        elif sign_with == "stranger":
            headers["X-Hub88-Signature"] = signing.sign(body, keys.stranger_private)
        response = client.post(
            ENDPOINTS[endpoint], data=body, content_type="application/json", headers=headers
        )
        assert response.status_code == 200, response.content
        assert response["Content-Type"] == "application/json"
        return Reply(response.content, response.headers.get("X-Hub88-Signature"), keys.operator_public)

    return call


@pytest.fixture
def movement(player, token):
    """movement(kind, **changes): a bet/win/rollback body for the session, fresh uuids."""

    def make(kind: str, **changes) -> dict:
        body = {
            "user": str(player.pk),
            "transaction_uuid": str(uuid.uuid4()),
            "token": token,
            "round_closed": False,
            "round": "round-1",
            "request_uuid": str(uuid.uuid4()),
            "game_code": GAME_CODE,
            "currency": "EUR",
        }
        if kind == "bet":
            body.update(amount=100_000, is_free=False, bet="zero")  # 1.00 EUR
        elif kind == "win":
            body.update(amount=250_000, reference_transaction_uuid=None)  # 2.50 EUR
        elif kind == "rollback":
            body.update(reference_transaction_uuid=None)
        body.update(changes)
        return body

    return make


def money_state(wallet: Wallet) -> dict:
    """Everything a refused call must leave as it was: balances, ledger rows, wallet events."""
    fresh = Wallet.objects.get(pk=wallet.pk)
    return {
        "cash": fresh.cash,
        "bonus": fresh.bonus,
        "debt": fresh.debt,
        "version": fresh.version,
        "transactions": LedgerTransaction.objects.filter(wallet=wallet).count(),
        "entries": LedgerEntry.objects.count(),
        "wallet events": Event.objects.filter(type__startswith="wallet.").count(),
    }


def cash_of(wallet: Wallet) -> int:
    return Wallet.objects.values_list("cash", flat=True).get(pk=wallet.pk)
