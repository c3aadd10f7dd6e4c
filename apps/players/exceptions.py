from apps.core.exceptions import Conflict, DomainError, NotFound, PermissionDenied


class PlayersError(DomainError):
    code = "players_error"


class RegistrationRefused(PlayersError):
    code = "registration_refused"


class AlreadyRegistered(Conflict):
    code = "already_registered"
    default_message = "A player with this username, email or national id already exists on this brand."


class InvalidCredentials(PlayersError):
    code = "invalid_credentials"
    http_status = 401
    default_message = "Unknown username or wrong password."


class LoginRefused(PermissionDenied):
    code = "login_refused"


class PlayerNotFound(NotFound):
    code = "player_not_found"
    default_message = "No such player."


class StatusChangeRefused(PlayersError):
    code = "status_change_refused"
