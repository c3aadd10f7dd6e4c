"""PaymentIQ: the payment orchestration platform's operator API (verifyuser, authorize,
transfer, cancel, notification), mounted at /integrations/paymentiq/."""

from apps.payments.providers.registry import ProviderAdapter, provider_register

CODE = "paymentiq"

provider_register(
    ProviderAdapter(
        code=CODE,
        name="PaymentIQ",
        settled_by="provider",
        methods=("card", "bank_transfer", "ewallet", "crypto"),
    )
)
