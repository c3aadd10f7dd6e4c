"""Events the wallet publishes, one per ledger transaction (and per adjustment decision)."""

from dataclasses import dataclass
from typing import ClassVar

from apps.core.events import DomainEvent


@dataclass(frozen=True)
class WalletTransactionPosted(DomainEvent):
    """Base of the money movements; `event_type` names the kind."""

    transaction_id: int
    wallet_id: int
    player_id: int
    brand_id: int
    currency: str
    amount: int
    cash: int
    bonus: int
    reserved: int
    debt: int
    round_ref: str = ""
    game_ref: str = ""
    payment_ref: str = ""
    # What the caller attached (e.g. {"round_closed": true} from a game provider).
    metadata: dict | None = None


@dataclass(frozen=True)
class DepositCredited(WalletTransactionPosted):
    event_type: ClassVar[str] = "wallet.deposit_credited"


@dataclass(frozen=True)
class WithdrawalReserved(WalletTransactionPosted):
    event_type: ClassVar[str] = "wallet.withdrawal_reserved"


@dataclass(frozen=True)
class WithdrawalReleased(WalletTransactionPosted):
    event_type: ClassVar[str] = "wallet.withdrawal_released"


@dataclass(frozen=True)
class WithdrawalSettled(WalletTransactionPosted):
    event_type: ClassVar[str] = "wallet.withdrawal_settled"


@dataclass(frozen=True)
class BetPlaced(WalletTransactionPosted):
    event_type: ClassVar[str] = "wallet.bet_placed"


@dataclass(frozen=True)
class WinSettled(WalletTransactionPosted):
    event_type: ClassVar[str] = "wallet.win_settled"


@dataclass(frozen=True)
class TransactionRolledBack(WalletTransactionPosted):
    event_type: ClassVar[str] = "wallet.transaction_rolled_back"
    reversed_transaction_id: int | None = None
    # "bet" or "win": what was undone; "" when nothing was (a tombstone, or undone already).
    reversed_kind: str = ""


@dataclass(frozen=True)
class BalanceAdjusted(WalletTransactionPosted):
    event_type: ClassVar[str] = "wallet.balance_adjusted"
    reason: str = ""


@dataclass(frozen=True)
class BonusChanged(WalletTransactionPosted):
    event_type: ClassVar[str] = "wallet.bonus_changed"
    kind: str = ""


@dataclass(frozen=True)
class AdjustmentRequested(DomainEvent):
    event_type: ClassVar[str] = "wallet.adjustment_requested"
    adjustment_id: int
    wallet_id: int
    player_id: int
    brand_id: int
    amount: int
    reason: str


@dataclass(frozen=True)
class AdjustmentRejected(DomainEvent):
    event_type: ClassVar[str] = "wallet.adjustment_rejected"
    adjustment_id: int
    player_id: int
    brand_id: int
    reason: str


@dataclass(frozen=True)
class ReconciliationMismatchFound(DomainEvent):
    event_type: ClassVar[str] = "wallet.reconciliation_mismatch"
    run_id: int
    brand_id: int
    kind: str
    wallet_id: int | None
    transaction_id: int | None
    expected: int
    actual: int
