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
        self._scoping_memo_invalidation(Brand, StaffUser)

    @staticmethod
    def _scoping_memo_invalidation(brand_model, staff_model) -> None:
        """A request that grants or revokes a brand or operator, changes someone's groups or
        adds a brand drops its memo of visible brands (tenants.selectors.brand_ids_visible_to),
        so its later reads see the change."""
        from django.db.models.signals import m2m_changed, post_delete, post_save
        from guardian.models import GroupObjectPermission, UserObjectPermission

        from apps.core.request_cache import request_cache_clear

        def clear(**kwargs):
            request_cache_clear()

        for model in (UserObjectPermission, GroupObjectPermission, brand_model):
            post_save.connect(
                clear, sender=model, weak=False, dispatch_uid=f"scoping-memo-save-{model.__name__}"
            )
            post_delete.connect(
                clear, sender=model, weak=False, dispatch_uid=f"scoping-memo-delete-{model.__name__}"
            )
        m2m_changed.connect(
            clear, sender=staff_model.groups.through, weak=False, dispatch_uid="scoping-memo-groups"
        )
