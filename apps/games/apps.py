from django.apps import AppConfig


class GamesConfig(AppConfig):
    name = "apps.games"
    label = "games"
    verbose_name = "Games"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from apps.games import handlers  # noqa: F401 - registers the subscriptions
        from apps.games.models import Game, Hub88Integration

        # What staff change. Sessions and rounds are written by the system and carry their
        # own trail (events, ledger). The operator's private key is recorded as changed,
        # never with its value.
        auditlog.register(Game)
        auditlog.register(Hub88Integration, mask_fields=["operator_private_key"])
