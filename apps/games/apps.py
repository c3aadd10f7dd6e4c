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

        # Provider doors cache games and integrations for a few seconds; a change saved in
        # this process clears them at once (and again after its commit, so that a read
        # racing the commit cannot keep the old row). Other processes see it within the TTL.
        from django.db import transaction
        from django.db.models.signals import post_delete, post_save

        from apps.games.providers.hub88.selectors import integration_cache_clear
        from apps.games.selectors import catalogue_cache_clear

        for model, clear in ((Game, catalogue_cache_clear), (Hub88Integration, integration_cache_clear)):

            def changed(clear=clear, **_) -> None:
                clear()
                transaction.on_commit(clear)

            for signal in (post_save, post_delete):
                signal.connect(
                    changed, sender=model, weak=False, dispatch_uid=f"cache-clear-{model.__name__}"
                )
