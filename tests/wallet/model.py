"""A small Python model of one or two wallets, and the requests the tests send to them.

The model knows the services' rules (cash first then bonus, debt repaid first, refunds to
the same buckets, forced debt, tombstones, keys spent once) and predicts each answer. The
property test asks it before every request; the concurrency tests replay what succeeded
through it, in the order the database serialised the movements.
"""

from dataclasses import dataclass, field, replace

from apps.wallet import services
from apps.wallet.exceptions import (
    DuplicateTransaction,
    InsufficientFunds,
    RollbackRefused,
    TransactionNotFound,
    TransactionRolledBack,
)
from tests.wallet.actions import BONUSES, GAME, PAYMENTS, PROVIDER, PSP

BUCKETS = ("cash", "bonus", "reserved", "debt")
SOURCES = {
    "deposit": PAYMENTS,
    "withdrawal_reserve": PAYMENTS,
    "withdrawal_release": PAYMENTS,
    "withdrawal_settle": PAYMENTS,
    "bet": GAME,
    "win": GAME,
    "rollback": GAME,
    "bonus_grant": BONUSES,
    "bonus_convert": BONUSES,
    "bonus_forfeit": BONUSES,
}


@dataclass(frozen=True)
class Request:
    """One call of a service, as a provider would send it (and may send again)."""

    kind: str
    wallet: int  # 0 or 1
    key: str
    amount: int = 0
    round_ref: str = ""
    payment_ref: str = ""
    target: str = ""  # the bet of a win, the target of a rollback

    @property
    def source(self) -> str:
        return SOURCES[self.kind]


@dataclass
class Record:
    """A ledger row the model expects."""

    kind: str
    wallet: int
    amount: int
    signature: tuple
    txn_id: int | None = None
    parts: dict = field(default_factory=dict)  # signed change per bucket (debt as owed)


@dataclass(frozen=True)
class Outcome:
    error: type | None = None
    code: str = ""
    replay_of: str | None = None  # the key whose transaction a replay answers with
    new: bool = False
    case: str = ""  # names a rare path, for the coverage check


class WalletModel:
    def __init__(self):
        self.buckets = [dict.fromkeys(BUCKETS, 0) for _ in range(2)]
        self.records: dict[tuple[str, str], Record] = {}
        self.reversed_by: dict[str, str] = {}  # game key -> the rollback key that undid it
        self.events = 0

    # --- what the services fingerprint --------------------------------------------------
    def signature(self, request: Request) -> tuple:
        if request.kind == "rollback":
            target = self.records.get((GAME, request.target))
            amount = target.amount if target else 0
            return ("rollback", request.wallet, amount, request.round_ref, request.target)
        return (
            request.kind,
            request.wallet,
            request.amount,
            request.round_ref,
            request.payment_ref,
            request.target,
        )

    def _known(self, request: Request) -> Outcome | None:
        """The answer for a key that exists: a replay, or a refusal."""
        record = self.records.get((request.source, request.key))
        if record is None:
            return None
        if record.kind == "tombstone":
            return Outcome(TransactionRolledBack)
        if record.signature != self.signature(request):
            return Outcome(DuplicateTransaction)
        return Outcome(replay_of=request.key)

    # --- prediction -------------------------------------------------------------------------
    def predict(self, request: Request) -> Outcome:
        if request.kind == "rollback":
            return self._predict_rollback(request)
        known = self._known(request)
        if known is not None:
            return known
        b = self.buckets[request.wallet]
        a = request.amount
        if request.kind == "win":
            bet = self.records.get((GAME, request.target))
            if bet is None or bet.wallet != request.wallet or bet.kind not in ("bet", "tombstone"):
                return Outcome(TransactionNotFound)
            if bet.kind == "tombstone" or request.target in self.reversed_by:
                return Outcome(TransactionRolledBack)
        short = {
            "bet": b["cash"] + b["bonus"] < a,
            "withdrawal_reserve": b["cash"] < a,
            "withdrawal_release": b["reserved"] < a,
            "withdrawal_settle": b["reserved"] < a,
            "bonus_convert": b["bonus"] < a,
        }.get(request.kind, False)
        return Outcome(InsufficientFunds) if short else Outcome(new=True)

    def _predict_rollback(self, request: Request) -> Outcome:
        target = self.records.get((GAME, request.target))
        if target is None:
            # a tombstone is claimed for the target, then the rollback's own key
            known = self._known(request)
            return known if known is not None else Outcome(new=True)
        if target.wallet != request.wallet:
            return Outcome(RollbackRefused, code="wrong_wallet")
        if target.kind not in ("bet", "win", "tombstone"):
            return Outcome(RollbackRefused, code="not_reversible")
        known = self._known(request)
        earlier = self.reversed_by.get(request.target)
        if earlier is not None and earlier != request.key:
            # undone already by another rollback id: this id is recorded, nothing moves
            if known is not None:
                return replace(known, case="undone-by-another")
            return Outcome(new=True, case="already-undone")
        return known if known is not None else Outcome(new=True)

    # --- applying what succeeded ----------------------------------------------------------
    def apply(self, request: Request) -> list[tuple[str, str]]:
        """Move the model's money; returns the keys of the ledger rows this wrote."""
        b = self.buckets[request.wallet]
        before = dict(b)
        a = request.amount
        kind = request.kind
        written = [(request.source, request.key)]
        amount = a
        if kind in ("deposit", "win"):
            self._credit_cash(b, a)
        elif kind == "bet":
            cash = min(b["cash"], a)
            b["cash"] -= cash
            b["bonus"] -= a - cash
        elif kind == "withdrawal_reserve":
            b["cash"] -= a
            b["reserved"] += a
        elif kind == "withdrawal_release":
            b["reserved"] -= a
            self._credit_cash(b, a)
        elif kind == "withdrawal_settle":
            b["reserved"] -= a
        elif kind == "bonus_grant":
            b["bonus"] += a
        elif kind == "bonus_convert":
            b["bonus"] -= a
            b["cash"] += a
        elif kind == "bonus_forfeit":
            b["bonus"] -= min(b["bonus"], a)
        elif kind == "rollback":
            target = self.records.get((GAME, request.target))
            already_undone = request.target in self.reversed_by
            if already_undone:
                pass
            elif target is None:
                target = Record("tombstone", request.wallet, 0, ("tombstone",))
                self.records[(GAME, request.target)] = target
                written.insert(0, (GAME, request.target))
            elif target.kind == "bet":
                b["cash"] -= target.parts["cash"]
                b["bonus"] -= target.parts["bonus"]
            elif target.kind == "win":
                take = min(b["cash"], target.parts["cash"])
                b["cash"] -= take
                b["debt"] += -target.parts["debt"] + (target.parts["cash"] - take)
            amount = target.amount
            if not already_undone:
                self.reversed_by[request.target] = request.key
        self.records[(request.source, request.key)] = Record(
            kind,
            request.wallet,
            amount,
            self.signature(request),
            parts={bucket: b[bucket] - before[bucket] for bucket in BUCKETS},
        )
        self.events += 1
        return written

    @staticmethod
    def _credit_cash(b: dict, amount: int) -> None:
        repay = min(b["debt"], amount)
        b["debt"] -= repay
        b["cash"] += amount - repay


def send(wallet, request: Request):
    """Call the service for this request."""
    common = {"wallet": wallet, "source": request.source, "external_id": request.key}
    if request.kind == "bet":
        return services.bet_place(
            **common, amount=request.amount, round_ref=request.round_ref, actor=PROVIDER
        )
    if request.kind == "win":
        return services.win_settle(
            **common,
            amount=request.amount,
            round_ref=request.round_ref,
            bet_external_id=request.target,
            actor=PROVIDER,
        )
    if request.kind == "rollback":
        return services.transaction_rollback(
            **common, target_external_id=request.target, round_ref=request.round_ref, actor=PROVIDER
        )
    if request.kind.startswith(("deposit", "withdrawal")):
        service = getattr(services, {"deposit": "deposit_credit"}.get(request.kind, request.kind))
        return service(**common, amount=request.amount, payment_ref=request.payment_ref, actor=PSP)
    return getattr(services, request.kind)(**common, amount=request.amount, actor=PSP)
