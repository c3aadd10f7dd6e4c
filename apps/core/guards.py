"""Wallet guards: how other apps veto a money movement without the wallet importing them.

Responsible gaming, compliance and others register a guard at app start:

    register_wallet_guard(rg_limits_guard)

The wallet calls every guard inside its transaction, before money moves; a guard vetoes
by raising a DomainError (e.g. LimitExceeded(code="deposit_limit")), which rolls the
whole operation back. Guards may read (and lock) their own rows; they must not call
back into the wallet.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from apps.core.exceptions import DomainError


class GuardRefusal(DomainError):
    """What a guard raises to veto a movement; subclasses set a precise code
    ("deposit_limit", "loss_limit", "self_excluded", ...). Protocol adapters map any
    GuardRefusal to their "limit reached" answer."""

    code = "limit_reached"
    http_status = 403
    default_message = "A responsible-gaming or compliance rule stops this."


@dataclass(frozen=True)
class WalletOperation:
    kind: str  # "bet", "deposit", "withdrawal_reserve", ... (LedgerTransaction.Kind values)
    wallet_id: int
    player_id: int
    brand_id: int
    currency: str
    amount: int  # minor units
    game_ref: str = ""
    round_ref: str = ""
    source: str = ""  # the idempotency source: "hub88", "paymentiq", "staff", ...
    # A rollback that moves money: the kind of the transaction it undoes ("bet", "win");
    # "" for everything else, including a rollback that finds its target already undone.
    reverses_kind: str = ""
    # The ledger transaction's created_at: period totals must file the movement where the
    # ledger does, even a microsecond before a period boundary.
    occurred_at: datetime | None = None


WalletGuard = Callable[[WalletOperation], None]
_guards: dict[str, WalletGuard] = {}


def register_wallet_guard(guard: WalletGuard) -> WalletGuard:
    """Register (or replace, by dotted name) a guard; usable as a decorator."""
    _guards[f"{guard.__module__}.{guard.__qualname__}"] = guard
    return guard


def unregister_wallet_guard(guard: WalletGuard) -> None:
    _guards.pop(f"{guard.__module__}.{guard.__qualname__}", None)


def wallet_guards_check(operation: WalletOperation) -> None:
    for guard in list(_guards.values()):
        guard(operation)
