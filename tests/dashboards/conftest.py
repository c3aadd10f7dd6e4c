"""Fixtures of the dashboards tests: sockets through the real ASGI application (origin check,
session auth, routing) on the Redis channel layer, and real events through the outbox.

The tests are plain functions that run their async part with `async_to_sync`: its
`database_sync_to_async` calls (the consumer's and the test's) run on the test's thread,
with the test's database connection.
"""

import pytest
from channels.testing import WebsocketCommunicator
from django.test import Client

from apps.core.actors import system_actor
from apps.payments import services as payments
from apps.wallet.services import deposit_credit, wallet_get_or_create
from pam.asgi import application
from tests.factories import PlayerFactory
from tests.helpers.staff import staff_login

PROVIDER = system_actor("dashboards-test")
ORIGIN = (b"origin", b"http://127.0.0.1")


def session_cookie(user) -> bytes:
    client = Client()
    staff_login(client, user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def socket(query: str, user=None) -> WebsocketCommunicator:
    headers = [ORIGIN]
    if user is not None:
        headers.append((b"cookie", session_cookie(user)))
    return WebsocketCommunicator(application, f"/ws/dashboards/?{query}", headers=headers)


async def connected(communicator: WebsocketCommunicator) -> dict:
    """Connect; the server's hello (which brands and streams the socket joined)."""
    ok, _ = await communicator.connect()
    assert ok
    hello = await communicator.receive_json_from(timeout=3)
    assert hello["type"] == "hello", hello
    return hello


async def close_code(communicator: WebsocketCommunicator) -> int:
    ok, _ = await communicator.connect()
    assert ok  # refusals come after the handshake, as close codes the page can read
    output = await communicator.receive_output(timeout=3)
    assert output["type"] == "websocket.close", output
    return output["code"]


@pytest.fixture
def funded_player():
    """funded_player(brand): a verified player with 1,000.00 of cash in the brand's currency."""

    def make(brand):
        player = PlayerFactory(brand=brand, kyc_status="verified")
        wallet = wallet_get_or_create(player=player, currency_code=brand.default_currency_id)
        deposit_credit(
            wallet=wallet, amount=100_000, source="test", external_id=f"fund-{player.pk}", actor=PROVIDER
        )
        return player, wallet

    return make


def flagged_withdrawal(player, amount: int = 5_000):
    """A first withdrawal: the review rules hold it (payments.payment_flagged)."""
    return payments.withdrawal_request(
        player=player,
        amount=amount,
        currency=player.brand.default_currency_id,
        method="card",
        provider="paymentiq",
        actor=PROVIDER,
    )
