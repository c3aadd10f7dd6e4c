from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "apps.tenants"
    label = "tenants"
    verbose_name = "Operators, brands and staff"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from apps.tenants.models import Brand, Operator, StaffUser

        auditlog.register(Operator)
        auditlog.register(Brand, m2m_fields={"currencies"})
        auditlog.register(
            StaffUser,
            exclude_fields=["password", "last_login"],
            m2m_fields={"groups", "user_permissions"},
        )
