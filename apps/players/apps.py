from django.apps import AppConfig


class PlayersConfig(AppConfig):
    name = "apps.players"
    label = "players"
    verbose_name = "Players"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from apps.players.models import PERSONAL_DATA_FIELDS, Player

        # The audit trail says which personal data changed, when and by whom, never the
        # values (AUDITLOG_MASK_CALLABLE masks them whole). The password hash and login
        # bookkeeping are not staff-editable and would only add noise.
        auditlog.register(
            Player,
            exclude_fields=["password", "last_login_at"],
            mask_fields=list(PERSONAL_DATA_FIELDS),
        )
