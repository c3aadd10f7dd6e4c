"""The dashboards' websocket: authenticate, join the user's brands' groups, forward.

    ws://host/ws/dashboards/?streams=queue,alerts[&brand=<id>]

The user is the staff session's (AuthMiddlewareStack; the session cookie of the admin).
Refusals are sent as close codes after the handshake, so that the page can tell them
from a dropped connection: 4401 not signed in (the page stops and says so), which is
also the answer to a session that timed out or has not accepted its second-factor code
(apps/security: the same remedy, sign in again), 4403 not
allowed (a stream that is not theirs, a brand they do not see, an inactive or non-staff
account). A user whose access changes is closed with 4000 (the page reconnects at once
and joins the groups of its brands now). An open socket checks its session again at most
every DASHBOARD_SESSION_RECHECK_SECONDS, on the page's ping (every 25 s) or before sending:
signed out, timed out (the idle clock runs on HTTP requests: a page watched without a click
for STAFF_SESSION_IDLE_SECONDS is signed out) or a reset second factor closes it with 4401.

Nothing is computed here: what is sent comes from the handlers (after commit) and the
ticker; the catch-up after a reconnect is an HTTP endpoint (views.py) over the outbox.
"""

import time
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from apps.dashboards import selectors
from apps.dashboards.streams import OPS, group_name, user_group_name
from apps.dashboards.ticker import snapshot_message, ticker
from apps.security.interface import staff_session_valid, staff_session_valid_now

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_RESCOPE = 4000


def _query(scope) -> tuple[list[str], int | None, bool]:
    """(streams, brand id or None, well formed)"""
    params = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    streams = [s for raw in params.get("streams", []) for s in raw.split(",") if s]
    brand = params.get("brand", [""])[0]
    if brand and not (brand.isascii() and brand.isdigit()):
        return streams, None, False
    return list(dict.fromkeys(streams)), int(brand) if brand else None, True


class DashboardConsumer(AsyncJsonWebsocketConsumer):
    groups_joined: list[str]
    watching_ops = False
    session_checked_at = 0.0
    signed_out = False

    async def connect(self):
        self.groups_joined = []
        await self.accept()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        session = self.scope.get("session")
        if session is None or not await database_sync_to_async(staff_session_valid)(session, user):
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.session_checked_at = time.monotonic()
        streams, brand_id, ok = _query(self.scope)
        try:
            if not ok:
                raise selectors.NotAllowed
            brand_ids = await database_sync_to_async(selectors.dashboard_scope)(
                user, streams, brand_id=brand_id
            )
        except selectors.NotAllowed:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        groups = [group_name(b, s) for b in brand_ids for s in streams] + [user_group_name(user.pk)]
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined = groups
        await self.send_json({"type": "hello", "streams": streams, "brands": brand_ids})
        if OPS in streams:
            ticker().watch()
            self.watching_ops = True
            for brand in brand_ids:
                await self.send_json(await sync_to_async(snapshot_message, thread_sensitive=False)(brand))

    async def disconnect(self, code):
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.groups_joined = []
        if self.watching_ops:
            ticker().unwatch()
            self.watching_ops = False

    @classmethod
    async def decode_json(cls, text_data):
        # Whatever a page sends that is not JSON is ignored, not an error that ends the socket.
        try:
            return await super().decode_json(text_data)
        except ValueError:
            return None

    async def receive_json(self, content, **kwargs):
        # Pages only listen; a ping keeps proxies from closing an idle socket.
        if isinstance(content, dict) and content.get("type") == "ping" and await self.session_still_valid():
            await self.send_json({"type": "pong"})

    async def session_still_valid(self) -> bool:
        """False (and the socket closed with 4401) once the staff session has ended; read
        from the session store at most every DASHBOARD_SESSION_RECHECK_SECONDS."""
        if self.signed_out:
            return False
        now = time.monotonic()
        if now - self.session_checked_at < settings.DASHBOARD_SESSION_RECHECK_SECONDS:
            return True
        self.session_checked_at = now
        session = self.scope.get("session")
        key = session.session_key if session is not None else None
        if await database_sync_to_async(staff_session_valid_now)(key, self.scope.get("user")):
            return True
        self.signed_out = True
        await self.close(code=CLOSE_UNAUTHENTICATED)
        return False

    # --- layer messages ---------------------------------------------------------------
    async def dash_message(self, event):
        # The handler or the ticker serialised the message once for every socket.
        if await self.session_still_valid():
            await self.send(text_data=event["text"])

    async def dash_rescope(self, event):
        await self.close(code=CLOSE_RESCOPE)
