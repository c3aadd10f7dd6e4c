from django.apps import AppConfig


class ExclusionsConfig(AppConfig):
    name = "apps.exclusions"
    label = "exclusions"
    verbose_name = "Self-exclusion registers"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from apps.exclusions.models import RegisterConfig

        auditlog.register(RegisterConfig, mask_fields=["api_key"], exclude_fields=["updated_at"])

        # compliance.check asks these at the moments the jurisdiction packs name
        # (registration, login, marketing); each check is stored (services.register_check).
        from apps.compliance.registers import register_client
        from apps.exclusions.models import Register
        from apps.exclusions.services import compliance_client

        for name in Register.values:
            register_client(name)(compliance_client(name))
