from django.apps import AppConfig


class TimelineConfig(AppConfig):
    name = "apps.timeline"
    label = "timeline"
    verbose_name = "Timeline"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from apps.timeline import handlers  # noqa: F401 - subscriptions
        from apps.timeline.models import ErasureRequest, RetentionPolicy

        # Who changed a retention rule, and who asked for and processed each erasure.
        # (PurgeRecord is itself the record of every removal.)
        auditlog.register(RetentionPolicy, exclude_fields=["updated_at"])
        auditlog.register(ErasureRequest)
