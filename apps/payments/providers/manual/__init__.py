"""Manual bank transfer: staff record deposits received on the operator's bank account and
send payouts by hand. The second adapter, which proves the interface is not PaymentIQ's."""

from apps.payments.providers.registry import ProviderAdapter, provider_register

CODE = "manual_bank"

provider_register(
    ProviderAdapter(code=CODE, name="Manual bank transfer", settled_by="staff", methods=("bank_transfer",))
)
