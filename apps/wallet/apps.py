from django.apps import AppConfig


class WalletConfig(AppConfig):
    name = "apps.wallet"
    label = "wallet"
    verbose_name = "Wallets and ledger"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from apps.wallet.models import AdjustmentRequest

        # Wallets and ledger rows are append-only and carry their own actor; the
        # adjustment requests are what staff create and decide.
        auditlog.register(AdjustmentRequest)
