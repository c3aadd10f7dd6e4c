from django.apps import AppConfig


class PlayersConfig(AppConfig):
    name = "apps.players"
    label = "players"
    verbose_name = "Players"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from apps.players.models import Player

        # Personal data is masked in the audit trail as it is on screen; the password hash
        # and login bookkeeping are not staff-editable and would only add noise.
        auditlog.register(
            Player,
            exclude_fields=["password", "last_login_at"],
            mask_fields=["national_id", "date_of_birth", "mobile", "address_line", "postcode"],
        )
