from django.apps import AppConfig


class ResponsibleGamingConfig(AppConfig):
    name = "apps.responsible_gaming"
    label = "responsible_gaming"
    verbose_name = "Responsible gaming"

    def ready(self) -> None:
        from auditlog.registry import auditlog
        from celery.signals import task_postrun

        from apps.core.guards import register_wallet_guard
        from apps.responsible_gaming import handlers  # noqa: F401 - subscriptions
        from apps.responsible_gaming.guard import rg_wallet_guard
        from apps.responsible_gaming.models import Exclusion, Limit, LimitChange
        from apps.responsible_gaming.refusals import refusals_flush

        register_wallet_guard(rg_wallet_guard)
        auditlog.register(Limit)
        auditlog.register(LimitChange)
        auditlog.register(Exclusion)

        def flush_after_task(**kwargs) -> None:
            refusals_flush()

        task_postrun.connect(flush_after_task, weak=False, dispatch_uid="rg-refusals-flush")
