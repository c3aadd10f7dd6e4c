"""Player API authentication: `Authorization: Bearer <token>` from player_login."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from apps.players.models import Player
from apps.players.selectors import player_by_token
from apps.security.interface import brand_ip_check


class PlayerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        try:
            key = header[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("Malformed token.") from exc
        player = player_by_token(key)
        if player is None:
            raise exceptions.AuthenticationFailed("Invalid or expired token.")
        if player.status != Player.Status.ACTIVE or not player.brand.active:
            raise exceptions.AuthenticationFailed("This account cannot use the API.")
        # The brand's IP blocklist: the brand is known from here on (403 ip_blocked).
        brand_ip_check(request._request, player.brand_id)
        return player, key

    def authenticate_header(self, request):
        return f'{self.keyword} realm="player-api"'


class IsPlayer:
    """Allows only requests authenticated as a player (never a staff session)."""

    def has_permission(self, request, view):
        return isinstance(request.user, Player)

    def has_object_permission(self, request, view, obj):
        return True


class PlayerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "apps.players.api.authentication.PlayerTokenAuthentication"
    name = "playerToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer"}
