"""Reads of the wallet, scoped like every other list (through tenants' brand scoping)."""

from django.db.models import QuerySet

from apps.tenants.selectors import brands_visible_to
from apps.wallet.models import (
    AdjustmentRequest,
    HouseAccount,
    LedgerTransaction,
    ReconciliationMismatch,
    Wallet,
)


def _brand_ids(user):
    return brands_visible_to(user).values("pk")


def wallets_visible_to(user) -> QuerySet[Wallet]:
    return Wallet.objects.filter(brand__in=_brand_ids(user))


def ledger_transactions_visible_to(user) -> QuerySet[LedgerTransaction]:
    return LedgerTransaction.objects.filter(brand__in=_brand_ids(user))


def house_accounts_visible_to(user) -> QuerySet[HouseAccount]:
    return HouseAccount.objects.filter(brand__in=_brand_ids(user))


def adjustments_visible_to(user) -> QuerySet[AdjustmentRequest]:
    return AdjustmentRequest.objects.filter(brand__in=_brand_ids(user))


def mismatches_visible_to(user) -> QuerySet[ReconciliationMismatch]:
    return ReconciliationMismatch.objects.filter(brand__in=_brand_ids(user))


def wallet_for(*, player, currency_code: str) -> Wallet | None:
    """The player's wallet in a currency, if it exists (for adapters)."""
    return Wallet.objects.filter(player=player, currency_id=currency_code).first()
