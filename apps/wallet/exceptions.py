"""Wallet errors with stable codes; adapters map them to their protocol (Hub88 statuses)."""

from apps.core.exceptions import Conflict, DomainError, NotFound


class WalletError(DomainError):
    code = "wallet_error"


class InsufficientFunds(WalletError):
    code = "insufficient_funds"
    default_message = "Not enough money in the wallet."

    def __init__(self, message=None, *, balance=None, **details):
        super().__init__(message, **details)
        self.balance = balance  # the wallet's balances at refusal, for protocols that report them


class InvalidAmount(WalletError):
    code = "invalid_amount"
    default_message = "The amount is not valid for this operation."


class DuplicateTransaction(Conflict):
    """The idempotency key was used before for a different request."""

    code = "duplicate_transaction"
    default_message = "This transaction id was already used with different details."


class TransactionNotFound(NotFound):
    code = "transaction_not_found"
    default_message = "The referenced transaction does not exist."


class TransactionRolledBack(WalletError):
    code = "transaction_rolled_back"
    default_message = "The referenced transaction was rolled back."


class RollbackRefused(WalletError):
    code = "rollback_refused"


class WalletNotFound(NotFound):
    code = "wallet_not_found"
    default_message = "No such wallet."


class AdjustmentRefused(WalletError):
    code = "adjustment_refused"
