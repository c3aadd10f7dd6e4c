from django.apps import AppConfig


class TimelineConfig(AppConfig):
    name = "apps.timeline"
    label = "timeline"
    verbose_name = "Timeline"

    def ready(self) -> None:
        from apps.timeline import handlers  # noqa: F401 - subscriptions
