from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "apps.compliance"
    label = "compliance"
    verbose_name = "Compliance rules"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from apps.compliance.models import BrandRulesVersion
        from apps.compliance.packs import packs_all

        # Every pack is validated now: a bad pack stops the process, naming file and field.
        packs_all()
        auditlog.register(BrandRulesVersion)
