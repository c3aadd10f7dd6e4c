from django.apps import AppConfig


class RulesConfig(AppConfig):
    name = "apps.rules"
    label = "rules"
    verbose_name = "BeAware rules"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from apps.rules.models import ReviewTask, RiskMarker, Rule, RuleVersion

        auditlog.register(Rule, exclude_fields=["updated_at"])
        auditlog.register(RuleVersion)
        auditlog.register(RiskMarker)
        auditlog.register(ReviewTask)

        from apps.rules import handlers  # noqa: F401 - subscriptions
