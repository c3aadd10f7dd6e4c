"""Fixtures of the PaymentIQ adapter tests: the GB brand's integration (HTTP Basic, an IP
allowlist), another brand's (Bearer), and `piq`: PaymentIQ calling our operator API over
HTTP with raw JSON bodies, credentials and a source address, as it does in production.

The player (verified KYC, GBP) and their funded wallet (1,000.00 GBP) come from
tests/payments/conftest.py.
"""

import base64
import json
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from apps.core.actors import system_actor
from apps.payments.models import Payment, PaymentIncident, ProviderCall, ReviewPolicy
from apps.payments.providers.paymentiq.auth import verified_cache_clear
from apps.payments.providers.paymentiq.services import paymentiq_integration_configure
from apps.players.models import PlayerToken
from apps.wallet.models import LedgerTransaction, Wallet
from tests.factories import PlayerFactory

USERNAME = "piq-brand-a"
PASSWORD = "correct-horse-battery-staple"
PIQ_IP = "10.1.2.3"
ALLOWLIST = ["10.1.2.0/24", "2001:db8::7"]
BASE = "/integrations/paymentiq/"


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@pytest.fixture(autouse=True)
def _fresh_verified_passwords():
    # The per-process cache of verified passwords must not carry one test's rows into the next.
    verified_cache_clear()
    yield
    verified_cache_clear()


@pytest.fixture
def integration(brand):
    """Brand A's integration: Basic piq-brand-a, callers from 10.1.2.0/24 and 2001:db8::7."""
    integration, _ = paymentiq_integration_configure(
        brand=brand,
        actor=system_actor("test"),
        auth_scheme="basic",
        basic_username=USERNAME,
        basic_password=PASSWORD,
        ip_allowlist=ALLOWLIST,
        active=True,
    )
    return integration


@pytest.fixture
def other_integration(other_brand):
    """Brand B's integration: a Bearer token, the same allowlist. Returns (integration, token)."""
    return paymentiq_integration_configure(
        brand=other_brand,
        actor=system_actor("test"),
        auth_scheme="bearer",
        generate_token=True,
        ip_allowlist=ALLOWLIST,
        active=True,
    )


@pytest.fixture
def open_policy(brand):
    """A review policy that screens nothing: payments go straight through (no first-withdrawal,
    method-mismatch, new-account or deposit-without-play review)."""
    return ReviewPolicy.objects.create(
        brand=brand,
        review_first_withdrawal=False,
        review_method_mismatch=False,
        new_account_days=0,
        no_play_window_hours=0,
        velocity_count=1000,
    )


@dataclass
class Reply:
    status: int
    body: dict


@pytest.fixture
def piq(integration):
    """piq(action, body) -> Reply: a POST as PaymentIQ (brand A's credentials, allowed IP).

    `body` may be a dict (sent as JSON) or raw bytes/str; `auth=None` sends no credentials.
    """
    default_auth = basic(USERNAME, PASSWORD)

    def call(action: str, body, *, auth: str | None = default_auth, ip: str = PIQ_IP) -> Reply:
        raw = body if isinstance(body, bytes | str) else json.dumps(body)
        headers = {"Authorization": auth} if auth is not None else {}
        response = Client().post(
            BASE + action, data=raw, content_type="application/json", headers=headers, REMOTE_ADDR=ip
        )
        assert response["Content-Type"] == "application/json"
        return Reply(response.status_code, json.loads(response.content))

    return call


@pytest.fixture
def session_token(player):
    """A live player-API token of the player (what the cashier hands PaymentIQ as sessionId)."""
    key = PlayerToken.new_key()
    PlayerToken.objects.create(
        player=player, key_hash=PlayerToken.hash_key(key), expires_at=timezone.now() + timedelta(hours=1)
    )
    return key


@pytest.fixture
def other_player(other_brand):
    return PlayerFactory(brand=other_brand, kyc_status="verified")


def deposit_body(player, tx_id: str = "piq-dep-1", amount: str = "25.50", **overrides) -> dict:
    body = {
        "userId": str(player.pk),
        "txAmount": amount,
        "txAmountCy": "GBP",
        "txId": tx_id,
        "txTypeId": 101,
        "txName": "CreditcardDeposit",
        "provider": "SafeCharge",
        "pspService": "SafeChargeCC",
        "accountId": "acc-4111",
        "maskedAccount": "411111******1111",
        "attributes": {"cardType": "DEBIT", "cardHolder": "Alex Lastname"},
    }
    return {**body, **overrides}


def withdrawal_body(player, tx_id: str = "piq-wd-1", amount: str = "-40.00", **overrides) -> dict:
    body = {
        "userId": str(player.pk),
        "txAmount": amount,
        "txAmountCy": "GBP",
        "txId": tx_id,
        "txTypeId": 102,
        "txName": "BankWithdrawal",
        "provider": "Trustly",
        "accountId": "iban-gb-1",
        "maskedAccount": "GB29****6819",
    }
    return {**body, **overrides}


def transfer_body(player, authorized: dict, answer: dict, **overrides) -> dict:
    body = {
        "userId": str(player.pk),
        "authCode": answer["authCode"],
        "txAmount": authorized["txAmount"],
        "txAmountCy": authorized["txAmountCy"],
        "txId": authorized["txId"],
        "txTypeId": authorized["txTypeId"],
        "txName": authorized["txName"],
        "provider": authorized["provider"],
        "txRefId": f"ref-{authorized['txId']}",
        "fee": "0.00",
        "feeCy": "GBP",
    }
    return {**body, **overrides}


def cancel_body(player, authorized: dict, answer: dict, **overrides) -> dict:
    body = {
        "userId": str(player.pk),
        "authCode": answer["authCode"],
        "txAmount": authorized["txAmount"],
        "txAmountCy": authorized["txAmountCy"],
        "txId": authorized["txId"],
        "statusCode": "ERR_DECLINED_BANK",
        "pspStatusCode": "05",
    }
    return {**body, **overrides}


def state(wallet=None) -> dict:
    """Everything a PaymentIQ call could change, to compare before and after."""
    snapshot = {
        "payments": list(Payment.objects.order_by("pk").values_list("pk", "status", "funds_received")),
        "ledger": LedgerTransaction.objects.count(),
        "calls": ProviderCall.objects.count(),
        "incidents": PaymentIncident.objects.count(),
        "wallets": list(
            Wallet.objects.order_by("pk").values_list("pk", "cash", "bonus", "reserved", "debt", "version")
        ),
    }
    if wallet is not None:
        snapshot["wallet"] = (
            Wallet.objects.filter(pk=wallet.pk).values("cash", "bonus", "reserved", "debt").get()
        )
    return snapshot
