"""Reads of the wallet, scoped like every other list (through tenants' brand scoping)."""

from django.db.models import QuerySet, Sum

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


def ledger_sums(*, player_id: int, currency: str, start, end) -> dict[str, int]:
    """What a player's wallets in `currency` moved in [start, end), by kind, from the ledger.

    {"deposit", "bet", "win", "bet_reversed", "win_reversed"}: money rollbacks are counted
    by the kind of what they undid; rollbacks that moved nothing are left out. For the
    responsible-gaming running totals and their reconciliation.
    """
    rows = (
        LedgerTransaction.objects.filter(
            wallet__player_id=player_id, currency_id=currency, created_at__gte=start, created_at__lt=end
        )
        .filter(kind__in=["deposit", "bet", "win", "rollback"])
        .order_by()
        .values_list("kind", "reverses__kind")
        .annotate(total=Sum("amount"))
    )
    sums = dict.fromkeys(("deposit", "bet", "win", "bet_reversed", "win_reversed"), 0)
    for kind, reversed_kind, total in rows:
        if kind == "rollback":
            if reversed_kind in ("bet", "win"):
                sums[f"{reversed_kind}_reversed"] += total or 0
        else:
            sums[kind] += total or 0
    return sums


def player_has_played(*, player_id: int) -> bool:
    """Has the player ever staked money (a bet that was not rolled back)?"""
    return (
        LedgerTransaction.objects.filter(wallet__player_id=player_id, kind="bet", amount__gt=0)
        .exclude(reversed_by__isnull=False)
        .exists()
    )
