"""The dashboards' websocket: who may connect, which brands' messages a socket receives, and
that the review queue's and alerts' messages come from committed events."""

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction

from apps.core.actors import system_actor
from apps.core.events import publish
from apps.payments import services as payments
from apps.rules.events import AlertRaised
from apps.security.interface import otp_devices_reset
from pam.asgi import application
from tests.dashboards.conftest import close_code, connected, flagged_withdrawal, socket
from tests.factories import PlayerFactory

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

RULES = system_actor("rules")


def raise_alert(brand, text: str, *, player=None) -> int:
    """A rules.alert_raised event through the outbox (committed, then dispatched); its id."""
    player = player or PlayerFactory(brand=brand)
    with transaction.atomic():
        row = publish(
            AlertRaised(
                hit_id=1,
                rule_id=1,
                rule_name="big deposit",
                player_id=player.pk,
                brand_id=brand.pk,
                severity="high",
                text=text,
            ),
            actor=RULES,
        )
    return row.pk


async def nothing_more(communicator, seconds: float = 0.5) -> bool:
    return await communicator.receive_nothing(timeout=seconds)


# --- who may connect ----------------------------------------------------------------------


def test_a_socket_without_a_session_is_refused_with_4401():
    async def run():
        communicator = socket("streams=queue")
        assert await close_code(communicator) == 4401
        await communicator.disconnect()

    async_to_sync(run)()


def test_a_forged_session_cookie_is_refused_with_4401():
    async def run():
        from channels.testing import WebsocketCommunicator

        from pam.asgi import application

        communicator = WebsocketCommunicator(
            application,
            "/ws/dashboards/?streams=queue",
            headers=[(b"origin", b"http://127.0.0.1"), (b"cookie", b"sessionid=not-a-session")],
        )
        assert await close_code(communicator) == 4401
        await communicator.disconnect()

    async_to_sync(run)()


def test_another_origin_is_refused_before_the_handshake(make_staff, brand):
    officer = make_staff("Compliance officer", brands=[brand])

    async def run():
        from channels.testing import WebsocketCommunicator

        from pam.asgi import application
        from tests.dashboards.conftest import session_cookie

        cookie = await database_sync_to_async(session_cookie)(officer)
        communicator = WebsocketCommunicator(
            application,
            "/ws/dashboards/?streams=alerts",
            headers=[(b"origin", b"https://evil.example"), (b"cookie", cookie)],
        )
        ok, _ = await communicator.connect()
        assert not ok
        await communicator.disconnect()

    async_to_sync(run)()


@pytest.mark.parametrize(
    ("role", "streams", "code"),
    [
        ("Support agent", "ops", 4403),  # no dashboards.view_dashboard
        ("Support agent", "alerts", 4403),
        ("Brand admin", "queue", 4403),  # does not see payments
        ("Compliance officer", "queue,nonsense", 4403),
        ("Compliance officer", "", 4403),
    ],
)
def test_a_stream_the_user_may_not_see_is_refused_with_4403(make_staff, brand, role, streams, code):
    user = make_staff(role, brands=[brand])

    async def run():
        communicator = await database_sync_to_async(socket)(f"streams={streams}", user)
        assert await close_code(communicator) == code
        await communicator.disconnect()

    async_to_sync(run)()


def test_an_inactive_or_non_staff_account_is_refused(make_staff, brand):
    inactive = make_staff("Compliance officer", brands=[brand])
    not_staff = make_staff("Compliance officer", brands=[brand], is_staff=False)

    async def run():
        # Logged in while active; deactivated since (the session stays, the account may not).
        communicator = await database_sync_to_async(socket)("streams=alerts", inactive)
        await database_sync_to_async(type(inactive).objects.filter(pk=inactive.pk).update)(is_active=False)
        assert await close_code(communicator) in (4401, 4403)
        await communicator.disconnect()
        communicator = await database_sync_to_async(socket)("streams=alerts", not_staff)
        assert await close_code(communicator) == 4403
        await communicator.disconnect()

    async_to_sync(run)()


def test_asking_for_another_brand_is_refused_like_a_missing_one(make_staff, brand, other_brand):
    officer = make_staff("Compliance officer", brands=[brand])

    async def run():
        for query in (
            f"streams=alerts&brand={other_brand.pk}",
            "streams=alerts&brand=999999",
            "streams=alerts&brand=x",
            "streams=alerts&brand=%C2%B2",  # "²": a digit to str.isdigit, not to int()
        ):
            communicator = await database_sync_to_async(socket)(query, officer)
            assert await close_code(communicator) == 4403
            await communicator.disconnect()

    async_to_sync(run)()


# --- brand scoping --------------------------------------------------------------------------


def test_a_user_never_receives_another_brands_alert(make_staff, brand, other_brand):
    officer_a = make_staff("Compliance officer", brands=[brand])
    officer_b = make_staff("Compliance officer", brands=[other_brand])
    both = make_staff("Auditor", brands=[brand, other_brand], operator=brand.operator)

    async def run():
        sockets = {}
        for name, user in (("a", officer_a), ("b", officer_b), ("both", both)):
            sockets[name] = await database_sync_to_async(socket)("streams=alerts,ops", user)
            hello = await connected(sockets[name])
            sockets[name].brands = hello["brands"]
            # The ops snapshot of each of its brands on connect.
            for _ in hello["brands"]:
                snapshot = await sockets[name].receive_json_from(timeout=3)
                assert snapshot["type"] == "ops.snapshot"
                assert snapshot["brand_id"] in hello["brands"]
        assert sockets["a"].brands == [brand.pk]
        assert sockets["b"].brands == [other_brand.pk]
        assert sockets["both"].brands == sorted([brand.pk, other_brand.pk])

        b_id = await database_sync_to_async(raise_alert)(other_brand, "only for B")
        a_id = await database_sync_to_async(raise_alert)(brand, "only for A")

        got_a = await sockets["a"].receive_json_from(timeout=3)
        got_b = await sockets["b"].receive_json_from(timeout=3)
        got_both = [await sockets["both"].receive_json_from(timeout=3) for _ in range(2)]
        assert (got_a["id"], got_a["brand_id"], got_a["data"]["text"]) == (
            a_id,
            brand.pk,
            "big deposit: only for A",
        )
        assert (got_b["id"], got_b["brand_id"]) == (b_id, other_brand.pk)
        assert sorted(m["id"] for m in got_both) == sorted([a_id, b_id])
        # Nothing else arrives: A never sees B's alert (nor B A's). Other messages on the
        # sockets would be ops snapshots of their own brands only.
        for name, own in (("a", {brand.pk}), ("b", {other_brand.pk})):
            while not await sockets[name].receive_nothing(timeout=1.5):
                extra = await sockets[name].receive_json_from()
                assert extra["type"] == "ops.snapshot" and extra["brand_id"] in own, extra
        for communicator in sockets.values():
            await communicator.disconnect()

    async_to_sync(run)()


def test_a_reviewer_never_receives_another_brands_queue_item(make_staff, brand, other_brand, funded_player):
    reviewer_a = make_staff("Payments reviewer", brands=[brand])
    player_b, _ = funded_player(other_brand)
    player_a, _ = funded_player(brand)

    async def run():
        communicator = await database_sync_to_async(socket)("streams=queue", reviewer_a)
        await connected(communicator)
        await database_sync_to_async(flagged_withdrawal)(player_b)
        assert await nothing_more(communicator, 1.0)
        payment = await database_sync_to_async(flagged_withdrawal)(player_a)
        message = await communicator.receive_json_from(timeout=3)
        assert (message["type"], message["brand_id"], message["data"]["payment_id"]) == (
            "payments.payment_flagged",
            brand.pk,
            payment.pk,
        )
        assert message["data"]["action"] == "upsert"
        await communicator.disconnect()

    async_to_sync(run)()


# --- the review queue's steps ---------------------------------------------------------------


def test_the_queue_stream_says_who_claimed_an_item_and_when_it_leaves(make_staff, brand, funded_player):
    reviewer = make_staff("Payments reviewer", brands=[brand])
    watcher = make_staff("Payments reviewer", brands=[brand])
    player, _ = funded_player(brand)

    async def run():
        communicator = await database_sync_to_async(socket)("streams=queue", watcher)
        await connected(communicator)
        payment = await database_sync_to_async(flagged_withdrawal)(player)
        flagged = await communicator.receive_json_from(timeout=3)
        await database_sync_to_async(payments.review_claim)(actor=reviewer, payment_id=payment.pk)
        claimed = await communicator.receive_json_from(timeout=3)
        await database_sync_to_async(payments.review_approve)(
            actor=reviewer, payment_id=payment.pk, reason="ok"
        )
        approved = await communicator.receive_json_from(timeout=3)

        assert [m["type"] for m in (flagged, claimed, approved)] == [
            "payments.payment_flagged",
            "payments.review_claimed",
            "payments.payment_approved",
        ]
        assert flagged["id"] < claimed["id"] < approved["id"]
        assert (claimed["data"]["action"], claimed["data"]["claimed_by"]) == ("claimed", reviewer.username)
        assert approved["data"]["action"] == "leave"
        assert await nothing_more(communicator)
        await communicator.disconnect()

    async_to_sync(run)()


def test_nothing_is_pushed_for_a_change_that_rolled_back(make_staff, brand):
    officer = make_staff("Compliance officer", brands=[brand])
    player = PlayerFactory(brand=brand)

    def publish_and_roll_back():
        with pytest.raises(RuntimeError), transaction.atomic():
            publish(
                AlertRaised(
                    hit_id=1,
                    rule_id=1,
                    rule_name="r",
                    player_id=player.pk,
                    brand_id=brand.pk,
                    severity="high",
                    text="x",
                ),
                actor=RULES,
            )
            raise RuntimeError("the change failed")

    async def run():
        communicator = await database_sync_to_async(socket)("streams=alerts", officer)
        await connected(communicator)
        await database_sync_to_async(publish_and_roll_back)()
        assert await nothing_more(communicator, 1.0)
        await communicator.disconnect()

    async_to_sync(run)()


def test_a_change_of_access_makes_the_socket_reconnect(make_staff, brand, other_brand):
    from apps.tenants.services import staff_brands_set

    admin = make_staff("Operator admin", operator=brand.operator)
    officer = make_staff("Compliance officer", brands=[brand])

    async def run():
        communicator = await database_sync_to_async(socket)("streams=alerts", officer)
        await connected(communicator)
        await database_sync_to_async(staff_brands_set)(actor=admin, staff=officer, brands=[])
        output = await communicator.receive_output(timeout=3)
        assert (output["type"], output.get("code")) == ("websocket.close", 4000)
        await communicator.disconnect()
        # Reconnecting, it now joins no brand's groups.
        communicator = await database_sync_to_async(socket)("streams=alerts", officer)
        hello = await connected(communicator)
        assert hello["brands"] == []
        await communicator.disconnect()

    async_to_sync(run)()


def test_pings_are_answered_and_nothing_else_is_accepted_from_the_page(make_staff, brand):
    officer = make_staff("Compliance officer", brands=[brand])

    async def run():
        communicator = await database_sync_to_async(socket)("streams=alerts", officer)
        await connected(communicator)
        await communicator.send_json_to({"type": "ping"})
        assert await communicator.receive_json_from(timeout=2) == {"type": "pong"}
        await communicator.send_json_to({"type": "join", "group": "dash.999.alerts"})
        await communicator.send_to(text_data="not json")
        assert await nothing_more(communicator)
        await communicator.send_json_to({"type": "ping"})
        assert await communicator.receive_json_from(timeout=2) == {"type": "pong"}  # still open
        await communicator.disconnect()

    async_to_sync(run)()


def test_sockets_close_cleanly(make_staff, brand):
    officer = make_staff("Compliance officer", brands=[brand])

    async def run():
        communicator = await database_sync_to_async(socket)("streams=alerts,ops", officer)
        await connected(communicator)
        await communicator.receive_json_from(timeout=3)  # the snapshot
        await communicator.disconnect()
        await asyncio.sleep(0)

    async_to_sync(run)()


def test_a_socket_survives_quiet_seconds_on_the_redis_layer(make_staff, brand):
    """channels_redis blocks 5 s per receive; a Redis read timeout of 5 s (redis-py's
    default) killed the consumer after 5 quiet seconds (close 1011). The layer's
    socket_timeout is above it (pam/settings.py)."""
    officer = make_staff("Compliance officer", brands=[brand])

    async def run():
        communicator = await database_sync_to_async(socket)("streams=alerts", officer)
        await connected(communicator)
        assert await communicator.receive_nothing(timeout=6.5, interval=0.1)
        alert_id = await database_sync_to_async(raise_alert)(brand, "after the quiet")
        message = await communicator.receive_json_from(timeout=3)
        assert message["id"] == alert_id
        await communicator.disconnect()

    async_to_sync(run)()


# --- an open socket follows its session -------------------------------------------------


def _socket_with_session(user):
    """(socket, the session's key) for a verified staff session."""
    from django.test import Client

    from tests.dashboards.conftest import ORIGIN
    from tests.helpers.staff import staff_login

    client = Client()
    staff_login(client, user)
    key = client.cookies["sessionid"].value
    communicator = WebsocketCommunicator(
        application,
        "/ws/dashboards/?streams=alerts",
        headers=[ORIGIN, (b"cookie", f"sessionid={key}".encode())],
    )
    return communicator, client


@pytest.mark.parametrize("ending", ["sign_out", "second_factor_reset", "lifetime"])
def test_an_open_socket_is_closed_4401_once_its_session_ends(make_staff, brand, superuser, settings, ending):
    settings.DASHBOARD_SESSION_RECHECK_SECONDS = 0
    officer = make_staff("Compliance officer", brands=[brand])

    def end_session(client):
        if ending == "sign_out":
            client.logout()
        elif ending == "second_factor_reset":
            otp_devices_reset(actor=superuser, staff=officer)
        else:
            settings.STAFF_SESSION_MAX_SECONDS = 0

    async def run():
        communicator, client = await database_sync_to_async(_socket_with_session)(officer)
        await connected(communicator)
        await communicator.send_json_to({"type": "ping"})
        assert await communicator.receive_json_from(timeout=2) == {"type": "pong"}  # valid: open

        await database_sync_to_async(end_session)(client)
        await communicator.send_json_to({"type": "ping"})
        output = await communicator.receive_output(timeout=3)
        assert output == {"type": "websocket.close", "code": 4401}
        await communicator.wait(timeout=3)

    async_to_sync(run)()


def test_a_socket_whose_session_ended_receives_no_more_pushes(make_staff, brand, settings):
    settings.DASHBOARD_SESSION_RECHECK_SECONDS = 0
    officer = make_staff("Compliance officer", brands=[brand])

    async def run():
        communicator, client = await database_sync_to_async(_socket_with_session)(officer)
        await connected(communicator)
        await database_sync_to_async(client.logout)()
        await database_sync_to_async(raise_alert)(brand, "after the sign-out")
        output = await communicator.receive_output(timeout=5)
        assert output == {"type": "websocket.close", "code": 4401}  # not the alert
        await communicator.wait(timeout=3)

    async_to_sync(run)()
