"""Who may call: credentials name the integration (and so the brand), the IP allowlist says
from where, and a switched-off integration answers nobody. Every refusal changes nothing."""

import pytest

from apps.core.actors import system_actor
from apps.payments.providers.paymentiq.services import paymentiq_integration_configure
from tests.payments.paymentiq.conftest import PASSWORD, USERNAME, basic, deposit_body, state

UNAUTHORIZED = {"success": False, "errCode": "unauthorized"}


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        (None, "Credentials are required."),
        (basic(USERNAME, "wrong-password-entirely"), "Wrong credentials."),
        (basic("nobody-at-all", PASSWORD), "Wrong credentials."),
        (basic(USERNAME, ""), "Wrong credentials."),
        ("Basic !!!not-base64!!!", "Malformed Basic credentials."),
        ("Basic " + "dXNlcm5hbWVvbmx5", "Malformed Basic credentials."),  # "usernameonly": no colon
        ("Bearer not-a-token-anyone-has", "Wrong credentials."),
        ("Bearer", "Wrong credentials."),
        ("Digest username=piq", "Use HTTP Basic or Bearer credentials."),
        ("Basic " + "A" * 2000, "Malformed credentials."),
    ],
    ids=[
        "no-header",
        "wrong-password",
        "unknown-user",
        "empty-password",
        "not-base64",
        "no-colon",
        "wrong-token",
        "empty-bearer",
        "other-scheme",
        "oversized-header",
    ],
)
def test_calls_without_valid_credentials_get_401_and_change_nothing(
    piq, player, funded_wallet, open_policy, auth, message
):
    before = state(funded_wallet)

    reply = piq("authorize", deposit_body(player), auth=auth)

    assert reply.status == 401
    assert reply.body == {**UNAUTHORIZED, "errMsg": message}
    assert state(funded_wallet) == before


def test_the_other_schemes_credentials_are_refused(piq, player, funded_wallet, brand, open_policy):
    # Given brand A's integration also holds a token, but its scheme is Basic
    _integration, token = paymentiq_integration_configure(
        brand=brand, actor=system_actor("t"), generate_token=True
    )
    before = state(funded_wallet)

    reply = piq("authorize", deposit_body(player), auth=f"Bearer {token}")

    assert (reply.status, reply.body["errCode"]) == (401, "unauthorized")
    assert state(funded_wallet) == before


def test_a_bearer_integration_is_called_with_its_token(piq, other_integration, other_player):
    _integration, token = other_integration
    body = {"sessionId": "none", "userId": str(other_player.pk)}

    reply = piq("verifyuser", body, auth=f"Bearer {token}")
    wrong = piq("verifyuser", body, auth=f"Bearer {token}x")

    assert (reply.status, reply.body["errCode"]) == (200, "session_invalid")  # authenticated, then checked
    assert (wrong.status, wrong.body["errCode"]) == (401, "unauthorized")


def test_another_brands_credentials_cannot_touch_this_brands_player(
    piq, player, funded_wallet, open_policy, other_integration
):
    # Brand B's (valid) token, naming brand A's player: to brand B, that player does not exist
    _integration, token = other_integration
    before = state(funded_wallet)

    replies = [
        piq("authorize", deposit_body(player, txAmountCy="SEK"), auth=f"Bearer {token}"),
        piq("authorize", deposit_body(player), auth=f"Bearer {token}"),
        piq("verifyuser", {"sessionId": "x", "userId": str(player.pk)}, auth=f"Bearer {token}"),
        piq("cancel", {"userId": str(player.pk), "txId": "piq-dep-1"}, auth=f"Bearer {token}"),
    ]

    for reply in replies:
        assert reply.status == 200
        assert reply.body == {
            "userId": str(player.pk),
            "success": False,
            "errCode": "user_not_found",
            "errMsg": "No such user.",
        }
    assert state(funded_wallet) == before


@pytest.mark.parametrize("ip", ["10.1.3.1", "192.168.0.1", "2001:db8::8", "not-an-ip", ""])
def test_a_caller_outside_the_allowlist_gets_403_and_changes_nothing(
    piq, player, funded_wallet, open_policy, ip
):
    before = state(funded_wallet)

    reply = piq("authorize", deposit_body(player), ip=ip)

    assert reply.status == 403
    assert reply.body == {
        "success": False,
        "errCode": "ip_not_allowed",
        "errMsg": "This address may not call.",
    }
    assert state(funded_wallet) == before


@pytest.mark.parametrize("ip", ["10.1.2.200", "2001:db8::7", "::ffff:10.1.2.9"])
def test_callers_in_the_allowlist_are_served(piq, player, funded_wallet, open_policy, ip):
    reply = piq("authorize", deposit_body(player), ip=ip)

    assert (reply.status, reply.body["success"]) == (200, True)


def test_an_empty_allowlist_refuses_everyone(piq, player, funded_wallet, brand, open_policy):
    paymentiq_integration_configure(brand=brand, actor=system_actor("t"), ip_allowlist=[])
    before = state(funded_wallet)

    reply = piq("authorize", deposit_body(player))

    assert (reply.status, reply.body["errCode"]) == (403, "ip_not_allowed")
    assert state(funded_wallet) == before


def test_a_switched_off_integration_refuses_every_call(piq, player, funded_wallet, brand, open_policy):
    paymentiq_integration_configure(brand=brand, actor=system_actor("t"), active=False)
    before = state(funded_wallet)

    reply = piq("authorize", deposit_body(player))

    assert reply.status == 403
    assert reply.body == {
        "success": False,
        "errCode": "integration_inactive",
        "errMsg": "The integration is switched off.",
    }
    assert state(funded_wallet) == before


def test_a_changed_password_stops_the_old_one_at_once(piq, player, funded_wallet, brand, open_policy):
    assert piq("authorize", deposit_body(player, tx_id="before")).status == 200  # verified and remembered

    paymentiq_integration_configure(
        brand=brand, actor=system_actor("t"), basic_password="a-brand-new-password-2026"
    )

    assert piq("authorize", deposit_body(player, tx_id="after")).status == 401
    assert (
        piq(
            "authorize",
            deposit_body(player, tx_id="after"),
            auth=basic(USERNAME, "a-brand-new-password-2026"),
        ).status
        == 200
    )


def test_only_post_is_served(integration, client):
    response = client.get("/integrations/paymentiq/authorize", REMOTE_ADDR="10.1.2.3")

    assert response.status_code == 405
