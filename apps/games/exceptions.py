"""Games errors with stable codes; protocol adapters map them to their statuses."""

from apps.core.exceptions import DomainError, NotFound


class GamesError(DomainError):
    code = "games_error"


class GameNotFound(NotFound):
    code = "game_not_found"
    default_message = "No such game."


class GameUnavailable(GamesError):
    code = "game_unavailable"
    default_message = "This game is not available."


class PlayerNotActive(GamesError):
    code = "player_not_active"
    http_status = 403
    default_message = "The player may not play."


class SessionRefused(GamesError):
    code = "session_refused"
    default_message = "A game session cannot be opened."


class IntegrationRefused(GamesError):
    """A provider integration's settings cannot be saved (bad key, missing key)."""

    code = "integration_refused"
