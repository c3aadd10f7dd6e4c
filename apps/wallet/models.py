"""Wallets on an append-only double-entry ledger.

Every amount is an integer of the currency's minor unit. A wallet holds four buckets:
cash, bonus, reserved (withdrawals awaiting payout) and debt (what a provider's settled
payment took beyond the cash there was; repaid first by the next credit). Each ledger
transaction has entries that sum to zero: the wallet's buckets against the brand's house
accounts. House accounts are never updated: their balances are sums of their entries,
so no single row serialises a brand's bets.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.core.models import Currency
from apps.players.models import Player
from apps.tenants.models import Brand


class Bucket(models.TextChoices):
    CASH = "cash", "Cash"
    BONUS = "bonus", "Bonus"
    RESERVED = "reserved", "Reserved"
    DEBT = "debt", "Debt"


class Wallet(models.Model):
    player = models.ForeignKey(Player, on_delete=models.PROTECT, related_name="wallets")
    # Denormalised from the player: scoping and house-account lookups without a join.
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="wallets")
    currency = models.ForeignKey(Currency, on_delete=models.PROTECT, related_name="+")
    cash = models.BigIntegerField(default=0)
    bonus = models.BigIntegerField(default=0)
    reserved = models.BigIntegerField(default=0)
    debt = models.BigIntegerField(default=0)
    version = models.BigIntegerField(default=0, help_text="Incremented by every movement.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["player", "currency"], name="wallet_one_per_player_currency"),
            models.CheckConstraint(condition=Q(cash__gte=0), name="wallet_cash_not_negative"),
            models.CheckConstraint(condition=Q(bonus__gte=0), name="wallet_bonus_not_negative"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="wallet_reserved_not_negative"),
            models.CheckConstraint(condition=Q(debt__gte=0), name="wallet_debt_not_negative"),
        ]
        permissions = [
            ("adjust_balance", "Can request a manual balance adjustment"),
            ("approve_adjustment", "Can approve another person's balance adjustment"),
        ]

    def __str__(self) -> str:
        return f"wallet #{self.pk} ({self.currency_id}) of player {self.player_id}"

    @property
    def playable(self) -> int:
        return self.cash + self.bonus


class HouseAccount(models.Model):
    """The brand's side of every entry, per currency. Never updated in place."""

    class Kind(models.TextChoices):
        GAMES = "games", "Games"
        PAYMENTS_CLEARING = "payments_clearing", "Payments clearing"
        BONUSES = "bonuses", "Bonuses"
        ADJUSTMENTS = "adjustments", "Adjustments"

    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="house_accounts")
    currency = models.ForeignKey(Currency, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["brand", "currency", "kind"], name="house_account_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.brand_id}/{self.currency_id}/{self.kind}"


class LedgerTransaction(models.Model):
    """One movement of money. Append-only (a PostgreSQL trigger refuses UPDATE/DELETE)."""

    class Kind(models.TextChoices):
        DEPOSIT = "deposit", "Deposit"
        WITHDRAWAL_RESERVE = "withdrawal_reserve", "Withdrawal reserved"
        WITHDRAWAL_RELEASE = "withdrawal_release", "Withdrawal released"
        WITHDRAWAL_SETTLE = "withdrawal_settle", "Withdrawal paid out"
        # A provider paid out more than was reserved (or after the reserve was released):
        # the money is gone, so it is taken from cash, and what cash lacks becomes debt.
        WITHDRAWAL_FORCED = "withdrawal_forced", "Payout beyond the reserve"
        BET = "bet", "Bet"
        WIN = "win", "Win"
        ROLLBACK = "rollback", "Rollback"
        ADJUSTMENT = "adjustment", "Adjustment"
        BONUS_GRANT = "bonus_grant", "Bonus granted"
        BONUS_CONVERT = "bonus_convert", "Bonus converted"
        BONUS_FORFEIT = "bonus_forfeit", "Bonus forfeited"
        # A rollback that arrived before its target: holds the target's key so that the
        # late target is refused instead of charged. No entries.
        TOMBSTONE = "tombstone", "Tombstone (rolled back before it arrived)"

    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="transactions")
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # The idempotency key: who sent it and their id for it.
    source = models.CharField(max_length=32)
    external_id = models.CharField(max_length=128)
    # SHA-256 of what the request asked for; the same key with another fingerprint is a conflict.
    fingerprint = models.CharField(max_length=64)
    amount = models.BigIntegerField(help_text="Nominal amount in minor units (never negative).")
    currency = models.ForeignKey(Currency, on_delete=models.PROTECT, related_name="+")
    round_ref = models.CharField(max_length=128, blank=True)
    game_ref = models.CharField(max_length=128, blank=True)
    payment_ref = models.CharField(max_length=128, blank=True)
    reverses = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )
    actor = models.CharField(max_length=100)
    correlation_id = models.CharField(max_length=64, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], name="ledger_idempotency_key"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="ledger_amount_not_negative"),
        ]
        indexes = [
            models.Index(fields=["wallet", "-id"], name="ledger_wallet_idx"),
            models.Index(fields=["brand", "round_ref"], name="ledger_round_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"


class LedgerEntry(models.Model):
    """One side of a transaction: a wallet bucket or a house account. Append-only."""

    transaction = models.ForeignKey(LedgerTransaction, on_delete=models.PROTECT, related_name="entries")
    wallet = models.ForeignKey(Wallet, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    bucket = models.CharField(max_length=8, choices=Bucket.choices, blank=True)
    house_account = models.ForeignKey(
        HouseAccount, null=True, blank=True, on_delete=models.PROTECT, related_name="entries"
    )
    amount = models.BigIntegerField()

    class Meta:
        verbose_name_plural = "ledger entries"
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(wallet__isnull=False, house_account__isnull=True, bucket__in=list(Bucket.values))
                    | Q(wallet__isnull=True, house_account__isnull=False, bucket="")
                ),
                name="ledger_entry_one_side",
            ),
            models.CheckConstraint(condition=~Q(amount=0), name="ledger_entry_not_zero"),
        ]
        indexes = [models.Index(fields=["wallet", "bucket"], name="ledger_entry_wallet_idx")]

    def __str__(self) -> str:
        side = (
            f"wallet {self.wallet_id}.{self.bucket}" if self.wallet_id else f"house {self.house_account_id}"
        )
        return f"{side} {self.amount:+d}"


class AdjustmentRequest(models.Model):
    """A staff correction of a wallet; above the threshold a second person approves it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Awaiting approval"
        APPLIED = "applied", "Applied"
        REJECTED = "rejected", "Rejected"

    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="adjustments")
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+")
    amount = models.BigIntegerField(help_text="Signed, minor units: + credits cash, - debits cash.")
    reason = models.CharField(max_length=500)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    requested_by = models.ForeignKey("tenants.StaffUser", on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        "tenants.StaffUser", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    transaction = models.OneToOneField(
        LedgerTransaction, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="adjustment_not_zero")]

    def __str__(self) -> str:
        return f"adjustment #{self.pk} {self.amount:+d} ({self.status})"

    def get_additional_data(self) -> dict:
        return {"operator_id": self.brand.operator_id, "brand_id": self.brand_id}


class ReconciliationRun(models.Model):
    """One check that every wallet equals its entries and every transaction sums to zero."""

    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    wallets_checked = models.PositiveIntegerField(default=0)
    transactions_checked = models.PositiveIntegerField(default=0)
    # Transactions are checked once: each run starts after the last one's highest id.
    last_transaction_id = models.BigIntegerField(default=0)
    mismatches = models.PositiveIntegerField(default=0)
    actor = models.CharField(max_length=100, blank=True)

    def __str__(self) -> str:
        return f"reconciliation #{self.pk} ({self.mismatches} mismatches)"


class ReconciliationMismatch(models.Model):
    class Kind(models.TextChoices):
        WALLET_BALANCE = "wallet_balance", "Wallet bucket differs from its entries"
        UNBALANCED_TRANSACTION = "unbalanced_transaction", "Transaction entries do not sum to zero"

    run = models.ForeignKey(ReconciliationRun, on_delete=models.PROTECT, related_name="found")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+")
    wallet = models.ForeignKey(Wallet, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    transaction = models.ForeignKey(
        LedgerTransaction, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    bucket = models.CharField(max_length=8, blank=True)
    expected = models.BigIntegerField(help_text="What the entries say.")
    actual = models.BigIntegerField(help_text="What the wallet row (or zero) says.")

    class Meta:
        verbose_name_plural = "reconciliation mismatches"

    def __str__(self) -> str:
        return f"{self.kind}: expected {self.expected}, found {self.actual}"
