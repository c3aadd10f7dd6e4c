from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "apps.payments"
    label = "payments"
    verbose_name = "Payments"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from apps.payments.models import Payment, PaymentApproval, PaymentIncident, ReviewPolicy
        from apps.payments.providers import registry

        # Staff decisions and configuration; provider call records carry their own trail.
        auditlog.register(Payment, exclude_fields=["updated_at"])
        auditlog.register(PaymentApproval)
        auditlog.register(ReviewPolicy)
        auditlog.register(PaymentIncident)
        # PaymentIQ credentials: recorded as set/changed, never with their (hashed) values.
        from apps.payments.providers.paymentiq.models import PaymentIQIntegration

        auditlog.register(
            PaymentIQIntegration,
            exclude_fields=["updated_at"],
            mask_fields=["basic_password_hash", "bearer_token_sha256"],
            mask_callable="apps.payments.providers.paymentiq.models.credential_mask",
        )
        registry.providers_load()
