from django.apps import AppConfig


class DashboardsConfig(AppConfig):
    name = "apps.dashboards"
    label = "dashboards"
    verbose_name = "Live dashboards"

    def ready(self) -> None:
        from apps.dashboards import handlers  # noqa: F401 - registers the subscriptions
