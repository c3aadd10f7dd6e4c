"""Writes of the wallet: every movement of money, each one atomic, idempotent and exact.

Contract of every money service here:
- One database transaction. Inside it, in this order: the idempotency key is claimed
  (INSERT ... ON CONFLICT DO NOTHING on (source, external_id)), the registered wallet
  guards are asked (core.guards), the wallet row is changed by one conditional UPDATE
  (movements.py), the entries are written, and an event is published (outbox).
- Idempotent: the same key with the same request returns the original transaction
  (`replayed=True`, current balances) and moves nothing; the same key with a different
  request raises DuplicateTransaction. A refused request leaves no trace, so it may be
  sent again.
- Concurrency: a duplicate arriving while the first is in flight waits on the key's
  unique index and then sees it; movements of one wallet queue on its row lock. Each
  transaction locks one wallet row and at most one earlier ledger row, so there is no
  lock cycle and nothing to retry. House accounts are only inserted into, never updated.
"""

import dataclasses
import functools
import hashlib
import json
from dataclasses import dataclass

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DataError, connection, transaction
from django.utils import timezone

from apps.core import hotpath
from apps.core.actors import actor_label, audit_as
from apps.core.correlation import correlation_id_ensure
from apps.core.events import outbox_row, outbox_row_insert, outbox_row_written, publish
from apps.core.exceptions import DomainError
from apps.core.guards import WalletOperation, wallet_guards_check
from apps.observability import metrics, tracing
from apps.tenants.permissions import user_can
from apps.wallet import events
from apps.wallet.exceptions import (
    AdjustmentRefused,
    DuplicateTransaction,
    InsufficientFunds,
    InvalidAmount,
    RollbackRefused,
    TransactionNotFound,
    TransactionRolledBack,
)
from apps.wallet.models import AdjustmentRequest, HouseAccount, LedgerTransaction, Wallet
from apps.wallet.movements import BUCKETS, ENTRY_SIGN, MOVEMENTS, post_sql, update_sql

Kind = LedgerTransaction.Kind
House = HouseAccount.Kind
# The ledger's columns are BIGINT: a larger amount is refused, not left to the database.
MAX_AMOUNT = 2**63 - 1


@dataclass(frozen=True)
class WalletResult:
    """What a movement did, and the wallet's balances after it (current ones on a replay)."""

    transaction_id: int | None
    kind: str
    wallet_id: int
    currency: str
    amount: int
    cash: int
    bonus: int
    reserved: int
    debt: int
    replayed: bool = False

    @property
    def playable(self) -> int:
        return self.cash + self.bonus


def _metered(service):
    """Count the money service's outcome (ok, replayed, or the refusal's code) for the metrics
    endpoint, and give it a span of its own when tracing is on. In-process counters only:
    nothing is added to the transaction."""
    name = service.__name__.lstrip("_").removeprefix("apply_")
    span_name = f"wallet.{name}"

    @functools.wraps(service)
    def metered(*args, **kwargs):
        with tracing.span(span_name):
            try:
                result = service(*args, **kwargs)
            except DomainError as exc:
                metrics.wallet_operation_counted(name, exc.code)
                raise
            except Exception:
                metrics.wallet_operation_counted(name, "error")
                raise
        metrics.wallet_operation_counted(name, "replayed" if result.replayed else "ok")
        return result

    return metered


# --- wallets ---------------------------------------------------------------------------


def wallet_get_or_create(*, player, currency_code: str) -> Wallet:
    """The player's wallet in this currency, made on first use with the brand's house accounts."""
    wallet = Wallet.objects.filter(player=player, currency_id=currency_code).first()
    if wallet is not None:
        return wallet
    if not player.brand.currencies.filter(code=currency_code).exists():
        raise InvalidAmount(f"{currency_code} is not offered by this brand.", code="currency_not_offered")
    with transaction.atomic():
        for kind in House.values:
            HouseAccount.objects.get_or_create(brand_id=player.brand_id, currency_id=currency_code, kind=kind)
        wallet, _ = Wallet.objects.get_or_create(
            player=player, currency_id=currency_code, defaults={"brand_id": player.brand_id}
        )
    return wallet


def _balances(wallet_id: int) -> dict[str, int]:
    row = hotpath.fetchone(f"SELECT {', '.join(BUCKETS)} FROM wallet_wallet WHERE id = %s", [wallet_id])
    return dict(zip(BUCKETS, row, strict=True))


# --- the one write path ----------------------------------------------------------------


def _fingerprint(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, separators=(",", ":"), default=str).encode()).hexdigest()


def _claim(
    *,
    wallet: Wallet,
    kind: str,
    source: str,
    external_id: str,
    fingerprint: str,
    amount: int,
    round_ref: str,
    game_ref: str,
    payment_ref: str,
    reverses_id: int | None,
    actor,
    metadata: dict,
    now=None,
) -> int | None:
    """Insert the transaction row unless its key exists; its id, or None if the key is taken."""
    jsonb = "::jsonb" if connection.vendor == "postgresql" else ""
    params = {
        "wallet": wallet.pk,
        "brand": wallet.brand_id,
        "kind": kind,
        "source": source,
        "external_id": external_id,
        "fingerprint": fingerprint,
        "amount": amount,
        "currency": wallet.currency_id,
        "round_ref": round_ref,
        "game_ref": game_ref,
        "payment_ref": payment_ref,
        "reverses": reverses_id,
        "actor": actor_label(actor),
        "cid": correlation_id_ensure(),
        "metadata": json.dumps(metadata),
        "now": now or timezone.now(),
    }
    row = hotpath.fetchone(
        "INSERT INTO wallet_ledgertransaction (wallet_id, brand_id, kind, source, external_id,"
        " fingerprint, amount, currency_id, round_ref, game_ref, payment_ref, reverses_id, actor,"
        " correlation_id, metadata, created_at) VALUES (%(wallet)s, %(brand)s, %(kind)s, %(source)s,"
        " %(external_id)s, %(fingerprint)s, %(amount)s, %(currency)s, %(round_ref)s, %(game_ref)s,"
        f" %(payment_ref)s, %(reverses)s, %(actor)s, %(cid)s, %(metadata)s{jsonb}, %(now)s)"
        " ON CONFLICT (source, external_id) DO NOTHING RETURNING id",
        params,
    )
    return row[0] if row else None


def _existing(source: str, external_id: str) -> LedgerTransaction:
    return LedgerTransaction.objects.get(source=source, external_id=external_id)


def _replay(*, wallet: Wallet, source: str, external_id: str, fingerprint: str, kind: str) -> WalletResult:
    """The answer to a key that was used before: the original, or a conflict."""
    existing = _existing(source, external_id)
    if existing.kind == Kind.TOMBSTONE and kind != Kind.TOMBSTONE:
        raise TransactionRolledBack("This transaction was rolled back before it arrived.")
    if existing.fingerprint != fingerprint:
        raise DuplicateTransaction()
    return WalletResult(
        transaction_id=existing.pk,
        kind=existing.kind,
        wallet_id=wallet.pk,
        currency=wallet.currency_id,
        amount=existing.amount,
        replayed=True,
        **_balances(wallet.pk),
    )


def _move_record_publish(
    wallet: Wallet, movement: str, params: dict, txn_id: int, house_kind: str | None, event, actor
) -> dict[str, int]:
    """Move the money, write the entries and the event; the new balances.

    Raises InsufficientFunds when the movement's condition refuses it, InvalidAmount when a
    bucket would leave BIGINT (the caller's atomic block then undoes the claim too).
    """
    row = outbox_row(event, actor=actor)
    try:
        if connection.vendor == "postgresql":
            moved = hotpath.fetchone(
                post_sql(MOVEMENTS[movement]),
                {
                    **params,
                    "wallet": wallet.pk,
                    "txn": txn_id,
                    "brand": wallet.brand_id,
                    "currency": wallet.currency_id,
                    "house_kind": house_kind,
                    "ev_type": row.type,
                    "ev_player": row.player_id,
                    "ev_payload": json.dumps(row.payload, cls=DjangoJSONEncoder),
                    "ev_at": row.occurred_at,
                    "ev_cid": row.correlation_id,
                    "ev_actor": row.actor,
                },
            )
        else:
            moved = _move_in_steps(wallet, movement, params, txn_id, house_kind)
    except DataError as exc:
        raise InvalidAmount(
            "The amount would take a balance out of range.", code="amount_out_of_range"
        ) from exc
    if moved is None:
        raise InsufficientFunds(balance=_balances(wallet.pk))
    old, new = dict(zip(BUCKETS, moved[:4], strict=True)), dict(zip(BUCKETS, moved[4:8], strict=True))
    if house_kind is None and any(old[b] != new[b] for b in BUCKETS):
        total = sum(ENTRY_SIGN[b] * (new[b] - old[b]) for b in BUCKETS)
        if total:  # on PostgreSQL the entries' one-side CHECK has refused it already
            raise AssertionError(f"an internal movement changed the wallet's total by {total}")
    row.payload.update(new)
    event_id = moved[8] if moved[8] is not None else outbox_row_insert(row)
    outbox_row_written(row, event_id)
    return new


def _move_in_steps(wallet: Wallet, movement: str, params: dict, txn_id: int, house_kind: str | None):
    """SQLite (the embedded default): what post_sql does, a statement at a time. SQLite cannot
    return the old row from an UPDATE, so it is read first (SQLite has one writer at a time)."""
    old = _balances(wallet.pk)
    row = hotpath.fetchone(
        update_sql(MOVEMENTS[movement], vendor=connection.vendor), {"wallet": wallet.pk, **params}
    )
    if row is None:
        return None
    new = dict(zip(BUCKETS, row, strict=True))
    rows, values = [], []
    total = 0
    for bucket in BUCKETS:
        amount = ENTRY_SIGN[bucket] * (new[bucket] - old[bucket])
        if amount:
            rows.append("(%s, %s, %s, NULL, %s)")
            values += [txn_id, wallet.pk, bucket, amount]
            total += amount
    if total and house_kind is not None:
        rows.append(
            "(%s, NULL, '', (SELECT id FROM wallet_houseaccount"
            " WHERE brand_id = %s AND currency_id = %s AND kind = %s), %s)"
        )
        values += [txn_id, wallet.brand_id, wallet.currency_id, house_kind, -total]
    if rows:
        hotpath.execute(
            "INSERT INTO wallet_ledgerentry (transaction_id, wallet_id, bucket, house_account_id, amount)"
            f" VALUES {', '.join(rows)}",
            values,
        )
    return (*old.values(), *new.values(), None)


def _post(
    *,
    wallet: Wallet,
    kind: str,
    source: str,
    external_id: str,
    amount: int,
    actor,
    movement: str | None,
    params: dict | None = None,
    house_kind: str | None,
    event_class,
    fingerprint_extra=(),
    round_ref: str = "",
    game_ref: str = "",
    payment_ref: str = "",
    reverses_id: int | None = None,
    metadata: dict | None = None,
    precheck=None,
    event_extra: dict | None = None,
    reverses_kind: str = "",
) -> WalletResult:
    """Claim, guard, move, record, publish: the body of every money service."""
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 <= amount <= MAX_AMOUNT:
        raise InvalidAmount("Amounts are non-negative integers of the currency's minor unit.")
    if not source or not external_id:
        raise InvalidAmount("A source and an external id are required.", code="idempotency_key_required")
    fingerprint = _fingerprint(
        kind, wallet.pk, wallet.currency_id, amount, round_ref, game_ref, payment_ref, *fingerprint_extra
    )
    now = timezone.now()
    with transaction.atomic():
        txn_id = _claim(
            now=now,
            wallet=wallet,
            kind=kind,
            source=source,
            external_id=external_id,
            fingerprint=fingerprint,
            amount=amount,
            round_ref=round_ref,
            game_ref=game_ref,
            payment_ref=payment_ref,
            reverses_id=reverses_id,
            actor=actor,
            metadata=metadata or {},
        )
        if txn_id is None:
            return _replay(
                wallet=wallet, source=source, external_id=external_id, fingerprint=fingerprint, kind=kind
            )
        if precheck is not None:
            precheck()
        wallet_guards_check(
            WalletOperation(
                kind=kind,
                wallet_id=wallet.pk,
                player_id=wallet.player_id,
                brand_id=wallet.brand_id,
                currency=wallet.currency_id,
                amount=amount,
                game_ref=game_ref,
                round_ref=round_ref,
                source=source,
                reverses_kind=reverses_kind,
                occurred_at=now,
            )
        )
        # The balances in the event are the new ones; the statement that moves the money
        # fills them in (zeros until then).
        event = event_class(
            transaction_id=txn_id,
            wallet_id=wallet.pk,
            player_id=wallet.player_id,
            brand_id=wallet.brand_id,
            currency=wallet.currency_id,
            amount=amount,
            round_ref=round_ref,
            game_ref=game_ref,
            payment_ref=payment_ref,
            metadata=metadata or {},
            **dict.fromkeys(BUCKETS, 0),
            **(event_extra or {}),
        )
        if movement is None or not amount and not params:
            new = _balances(wallet.pk)
            publish(dataclasses.replace(event, **new), actor=actor)
        else:
            new = _move_record_publish(
                wallet, movement, {"a": amount, **(params or {})}, txn_id, house_kind, event, actor
            )
    return WalletResult(
        transaction_id=txn_id,
        kind=str(kind),
        wallet_id=wallet.pk,
        currency=wallet.currency_id,
        amount=amount,
        **new,
    )


# --- payments --------------------------------------------------------------------------


@_metered
def deposit_credit(
    *, wallet: Wallet, amount: int, source: str, external_id: str, actor, payment_ref: str = ""
) -> WalletResult:
    """Credit a completed deposit to cash (repaying any debt first)."""
    _positive(amount)
    return _post(
        wallet=wallet,
        kind=Kind.DEPOSIT,
        source=source,
        external_id=external_id,
        amount=amount,
        actor=actor,
        movement="credit_cash",
        house_kind=House.PAYMENTS_CLEARING,
        event_class=events.DepositCredited,
        payment_ref=payment_ref,
    )


@_metered
def withdrawal_reserve(
    *, wallet: Wallet, amount: int, source: str, external_id: str, actor, payment_ref: str = ""
) -> WalletResult:
    """Move cash to reserved while a withdrawal awaits approval and payout."""
    _positive(amount)
    return _post(
        wallet=wallet,
        kind=Kind.WITHDRAWAL_RESERVE,
        source=source,
        external_id=external_id,
        amount=amount,
        actor=actor,
        movement="reserve",
        house_kind=None,
        event_class=events.WithdrawalReserved,
        payment_ref=payment_ref,
    )


@_metered
def withdrawal_release(
    *, wallet: Wallet, amount: int, source: str, external_id: str, actor, payment_ref: str = ""
) -> WalletResult:
    """Give reserved money back to cash (rejected, cancelled or failed withdrawal)."""
    _positive(amount)
    return _post(
        wallet=wallet,
        kind=Kind.WITHDRAWAL_RELEASE,
        source=source,
        external_id=external_id,
        amount=amount,
        actor=actor,
        movement="release",
        house_kind=House.PAYMENTS_CLEARING,
        event_class=events.WithdrawalReleased,
        payment_ref=payment_ref,
    )


@_metered
def withdrawal_settle(
    *, wallet: Wallet, amount: int, source: str, external_id: str, actor, payment_ref: str = ""
) -> WalletResult:
    """The reserved money has been paid out: it leaves the wallet for payments clearing."""
    _positive(amount)
    return _post(
        wallet=wallet,
        kind=Kind.WITHDRAWAL_SETTLE,
        source=source,
        external_id=external_id,
        amount=amount,
        actor=actor,
        movement="settle",
        house_kind=House.PAYMENTS_CLEARING,
        event_class=events.WithdrawalSettled,
        payment_ref=payment_ref,
    )


@_metered
def withdrawal_settle_forced(
    *, wallet: Wallet, amount: int, source: str, external_id: str, actor, payment_ref: str = ""
) -> WalletResult:
    """A provider paid out money that is no longer reserved: it leaves cash, and what cash
    cannot cover becomes debt (the money has moved; the player cannot refuse it)."""
    _positive(amount)
    return _post(
        wallet=wallet,
        kind=Kind.WITHDRAWAL_FORCED,
        source=source,
        external_id=external_id,
        amount=amount,
        actor=actor,
        movement="forced_debit",
        house_kind=House.PAYMENTS_CLEARING,
        event_class=events.WithdrawalSettled,
        payment_ref=payment_ref,
    )


# --- games -----------------------------------------------------------------------------


@_metered
def bet_place(
    *,
    wallet: Wallet,
    amount: int,
    source: str,
    external_id: str,
    actor,
    round_ref: str = "",
    game_ref: str = "",
    metadata: dict | None = None,
) -> WalletResult:
    """Take a stake: cash first, then bonus. A zero amount (free spin) is recorded, moves nothing.

    Refused with InsufficientFunds (carrying the balances), with TransactionRolledBack if
    a rollback for this id arrived first, or by a guard's error (limits).
    """
    return _post(
        wallet=wallet,
        kind=Kind.BET,
        source=source,
        external_id=external_id,
        amount=amount,
        actor=actor,
        movement="debit_playable",
        house_kind=House.GAMES,
        event_class=events.BetPlaced,
        round_ref=round_ref,
        game_ref=game_ref,
        metadata=metadata,
    )


@_metered
def win_settle(
    *,
    wallet: Wallet,
    amount: int,
    source: str,
    external_id: str,
    bet_external_id: str,
    actor,
    round_ref: str = "",
    game_ref: str = "",
    metadata: dict | None = None,
) -> WalletResult:
    """Pay a win against an earlier bet of the same wallet (cash; debt repaid first).

    Refused when the bet is unknown (TransactionNotFound) or was rolled back
    (TransactionRolledBack). The bet row is share-locked, so a concurrent rollback of it
    either happens before (and the win is refused) or after (and undoes the bet only).
    """

    def bet_still_standing() -> None:
        bet = _bet_share_locked(source, bet_external_id)
        if bet is None or bet["wallet_id"] != wallet.pk or bet["kind"] not in (Kind.BET, Kind.TOMBSTONE):
            raise TransactionNotFound("The bet this win refers to does not exist.")
        # A second statement on purpose: it takes a fresh snapshot after the share lock was
        # granted, so it sees a rollback that committed while this waited. (An EXISTS inside
        # the locking SELECT would read the older snapshot and let the win through.)
        if bet["kind"] == Kind.TOMBSTONE or _reversed(bet["pk"]):
            raise TransactionRolledBack("The bet this win refers to was rolled back.")

    return _post(
        wallet=wallet,
        kind=Kind.WIN,
        source=source,
        external_id=external_id,
        amount=amount,
        actor=actor,
        movement="credit_cash",
        house_kind=House.GAMES,
        event_class=events.WinSettled,
        round_ref=round_ref,
        game_ref=game_ref,
        fingerprint_extra=(bet_external_id,),
        metadata={**(metadata or {}), "bet": bet_external_id},
        precheck=bet_still_standing,
    )


def _bet_share_locked(source: str, external_id: str) -> dict | None:
    """The bet row, share-locked against a concurrent rollback (which locks it for update)."""
    lock = " FOR SHARE" if connection.vendor == "postgresql" else ""
    row = hotpath.fetchone(
        "SELECT id, kind, wallet_id FROM wallet_ledgertransaction"
        f" WHERE source = %s AND external_id = %s{lock}",
        [source, external_id],
    )
    return None if row is None else {"pk": row[0], "kind": row[1], "wallet_id": row[2]}


def _reversed(transaction_id: int) -> bool:
    """Whether a rollback has undone this transaction (as of this statement's snapshot)."""
    return hotpath.fetchone(
        "SELECT EXISTS (SELECT 1 FROM wallet_ledgertransaction WHERE reverses_id = %s)", [transaction_id]
    )[0]


def _lock_target(source: str, external_id: str) -> LedgerTransaction | None:
    return (
        LedgerTransaction.objects.select_for_update().filter(source=source, external_id=external_id).first()
    )


@_metered
def transaction_rollback(
    *,
    wallet: Wallet,
    source: str,
    external_id: str,
    target_external_id: str,
    actor,
    round_ref: str = "",
    game_ref: str = "",
    metadata: dict | None = None,
) -> WalletResult:
    """Undo a bet or a win exactly once; safe to repeat any number of times.

    A target that never arrived gets a tombstone under its id, so the late original is
    refused. A target already undone by another rollback is answered with the current
    balances and no new movement. A win is undone in full even when the cash has been
    spent since: what cash cannot cover becomes debt.
    """
    if not source or not external_id or not target_external_id:
        # Checked before a tombstone could be claimed under an empty (or NULL) target id.
        raise InvalidAmount(
            "A source, an external id and the target's id are required.", code="idempotency_key_required"
        )
    fingerprint_extra = (target_external_id,)
    for _attempt in range(3):
        with transaction.atomic():
            target = _lock_target(source, target_external_id)
            if target is None:
                tombstone = _claim(
                    wallet=wallet,
                    kind=Kind.TOMBSTONE,
                    source=source,
                    external_id=target_external_id,
                    fingerprint=_fingerprint(Kind.TOMBSTONE, target_external_id),
                    amount=0,
                    round_ref=round_ref,
                    game_ref=game_ref,
                    payment_ref="",
                    reverses_id=None,
                    actor=actor,
                    metadata={"rolled_back_by": external_id},
                )
                if tombstone is None:
                    continue  # the target arrived meanwhile: look again
                target = LedgerTransaction.objects.get(pk=tombstone)
            if target.wallet_id != wallet.pk:
                raise RollbackRefused("The transaction belongs to another wallet.", code="wrong_wallet")
            if target.kind not in (Kind.BET, Kind.WIN, Kind.TOMBSTONE):
                raise RollbackRefused(f"A {target.kind} cannot be rolled back here.", code="not_reversible")
            earlier = LedgerTransaction.objects.filter(reverses=target).first()
            if earlier is not None and (earlier.source, earlier.external_id) != (source, external_id):
                # Undone already, by another rollback id: nothing more to undo, but this id is
                # recorded (no movement, no link to the target) so that it is spent like any
                # other key: a repeat is a replay, a reuse for another target a conflict.
                return _post(
                    wallet=wallet,
                    kind=Kind.ROLLBACK,
                    source=source,
                    external_id=external_id,
                    amount=target.amount,
                    actor=actor,
                    movement=None,
                    house_kind=None,
                    event_class=events.TransactionRolledBack,
                    round_ref=round_ref,
                    game_ref=game_ref,
                    fingerprint_extra=fingerprint_extra,
                    metadata={
                        **(metadata or {}),
                        "target": target_external_id,
                        "already_undone_by": earlier.pk,
                    },
                    # Nothing was undone by this one: no reversed kind, so no consumer counts it.
                    event_extra={"reversed_transaction_id": target.pk, "reversed_kind": ""},
                )
            parts = _parts(target)
            movement, params = {
                Kind.BET: ("refund", {"cash": -parts["cash"], "bonus": -parts["bonus"]}),
                Kind.WIN: ("unwin", {"cash": parts["cash"], "debt": parts["debt"]}),
                Kind.TOMBSTONE: (None, None),
            }[target.kind]
            return _post(
                wallet=wallet,
                kind=Kind.ROLLBACK,
                source=source,
                external_id=external_id,
                amount=target.amount,
                actor=actor,
                movement=movement,
                params=params,
                house_kind=House.GAMES,
                event_class=events.TransactionRolledBack,
                round_ref=round_ref,
                game_ref=game_ref,
                reverses_id=target.pk,
                reverses_kind="" if target.kind == Kind.TOMBSTONE else str(target.kind),
                fingerprint_extra=fingerprint_extra,
                metadata={**(metadata or {}), "target": target_external_id},
                event_extra={
                    "reversed_transaction_id": target.pk,
                    "reversed_kind": "" if target.kind == Kind.TOMBSTONE else str(target.kind),
                },
            )
    raise RollbackRefused("The rollback could not settle on its target; try again.", code="retry")


def _parts(txn: LedgerTransaction) -> dict[str, int]:
    """The signed entry amounts a transaction put on each wallet bucket."""
    parts = dict.fromkeys(BUCKETS, 0)
    for bucket, amount in txn.entries.filter(wallet__isnull=False).values_list("bucket", "amount"):
        parts[bucket] += amount
    return parts


# --- bonuses ---------------------------------------------------------------------------


@_metered
def bonus_grant(*, wallet: Wallet, amount: int, source: str, external_id: str, actor) -> WalletResult:
    _positive(amount)
    return _post(
        wallet=wallet,
        kind=Kind.BONUS_GRANT,
        source=source,
        external_id=external_id,
        amount=amount,
        actor=actor,
        movement="credit_bonus",
        house_kind=House.BONUSES,
        event_class=events.BonusChanged,
        event_extra={"kind": Kind.BONUS_GRANT},
    )


@_metered
def bonus_forfeit(*, wallet: Wallet, amount: int, source: str, external_id: str, actor) -> WalletResult:
    """Take back up to `amount` of bonus (what is left of it)."""
    _positive(amount)
    return _post(
        wallet=wallet,
        kind=Kind.BONUS_FORFEIT,
        source=source,
        external_id=external_id,
        amount=amount,
        actor=actor,
        movement="forfeit_bonus",
        house_kind=House.BONUSES,
        event_class=events.BonusChanged,
        event_extra={"kind": Kind.BONUS_FORFEIT},
    )


@_metered
def bonus_convert(*, wallet: Wallet, amount: int, source: str, external_id: str, actor) -> WalletResult:
    """Wagering met: bonus money becomes cash (the cost was booked when it was granted)."""
    _positive(amount)
    return _post(
        wallet=wallet,
        kind=Kind.BONUS_CONVERT,
        source=source,
        external_id=external_id,
        amount=amount,
        actor=actor,
        movement="convert_bonus",
        house_kind=None,
        event_class=events.BonusChanged,
        event_extra={"kind": Kind.BONUS_CONVERT},
    )


def _positive(amount) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= MAX_AMOUNT:
        raise InvalidAmount("The amount must be a positive integer of minor units.")


# --- staff adjustments (four eyes above a threshold) -----------------------------------


def adjustment_threshold(currency_exponent: int) -> int:
    """Adjustments larger than this (minor units) need a second person's approval."""
    return int(settings.WALLET_ADJUSTMENT_FOUR_EYES_ABOVE * 10**currency_exponent)


@_metered
def _apply_adjustment(adjustment: AdjustmentRequest, *, actor) -> WalletResult:
    wallet = adjustment.wallet
    movement = "credit_cash" if adjustment.amount > 0 else "debit_cash"
    result = _post(
        wallet=wallet,
        kind=Kind.ADJUSTMENT,
        source="staff-adjustment",
        external_id=str(adjustment.pk),
        amount=abs(adjustment.amount),
        actor=actor,
        movement=movement,
        house_kind=House.ADJUSTMENTS,
        event_class=events.BalanceAdjusted,
        fingerprint_extra=(adjustment.amount,),
        metadata={"reason": adjustment.reason, "requested_by": adjustment.requested_by_id},
        event_extra={"reason": adjustment.reason},
    )
    return result


def adjustment_request(*, actor, wallet: Wallet, amount: int, reason: str) -> AdjustmentRequest:
    """Ask to credit (+) or debit (-) a wallet's cash, with a reason.

    Needs wallet.adjust_balance on the wallet's brand. At or under the threshold it is
    applied at once; above it, it waits for another person's approval.
    """
    if not user_can(actor, "wallet.adjust_balance", brand_id=wallet.brand_id):
        raise AdjustmentRefused("You may not adjust this wallet.", code="permission_denied")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount == 0:
        raise InvalidAmount("The adjustment must be a non-zero integer of minor units.")
    reason = (reason or "").strip()
    if not reason:
        raise AdjustmentRefused("A reason is required.", code="reason_required")
    with transaction.atomic(), audit_as(actor):
        adjustment = AdjustmentRequest.objects.create(
            wallet=wallet, brand_id=wallet.brand_id, amount=amount, reason=reason[:500], requested_by=actor
        )
        publish(
            events.AdjustmentRequested(
                adjustment_id=adjustment.pk,
                wallet_id=wallet.pk,
                player_id=wallet.player_id,
                brand_id=wallet.brand_id,
                amount=amount,
                reason=adjustment.reason,
            ),
            actor=actor,
        )
        if abs(amount) <= adjustment_threshold(wallet.currency.exponent):
            result = _apply_adjustment(adjustment, actor=actor)
            adjustment.status = AdjustmentRequest.Status.APPLIED
            adjustment.decided_by, adjustment.decided_at = actor, timezone.now()
            adjustment.transaction_id = result.transaction_id
            adjustment.save(update_fields=["status", "decided_by", "decided_at", "transaction"])
    return adjustment


def adjustment_approve(*, actor, adjustment: AdjustmentRequest) -> AdjustmentRequest:
    """A second person approves a pending adjustment, which is then applied."""
    if not user_can(actor, "wallet.approve_adjustment", brand_id=adjustment.brand_id):
        raise AdjustmentRefused("You may not approve adjustments of this brand.", code="permission_denied")
    with transaction.atomic(), audit_as(actor):
        locked = (
            AdjustmentRequest.objects.select_for_update()
            .select_related("wallet__currency")
            .get(pk=adjustment.pk)
        )
        if locked.status != AdjustmentRequest.Status.PENDING:
            raise AdjustmentRefused(f"This adjustment is already {locked.status}.", code="not_pending")
        if locked.requested_by_id == actor.pk:
            raise AdjustmentRefused("Another person must approve your own adjustment.", code="four_eyes")
        result = _apply_adjustment(locked, actor=actor)
        locked.status = AdjustmentRequest.Status.APPLIED
        locked.decided_by, locked.decided_at = actor, timezone.now()
        locked.transaction_id = result.transaction_id
        locked.save(update_fields=["status", "decided_by", "decided_at", "transaction"])
    return locked


def adjustment_reject(*, actor, adjustment: AdjustmentRequest, reason: str) -> AdjustmentRequest:
    if not user_can(actor, "wallet.approve_adjustment", brand_id=adjustment.brand_id):
        raise AdjustmentRefused("You may not decide adjustments of this brand.", code="permission_denied")
    with transaction.atomic(), audit_as(actor):
        locked = AdjustmentRequest.objects.select_for_update().get(pk=adjustment.pk)
        if locked.status != AdjustmentRequest.Status.PENDING:
            raise AdjustmentRefused(f"This adjustment is already {locked.status}.", code="not_pending")
        locked.status = AdjustmentRequest.Status.REJECTED
        locked.decided_by, locked.decided_at = actor, timezone.now()
        locked.save(update_fields=["status", "decided_by", "decided_at"])
        publish(
            events.AdjustmentRejected(
                adjustment_id=locked.pk,
                player_id=locked.wallet.player_id,
                brand_id=locked.brand_id,
                reason=(reason or "").strip()[:500],
            ),
            actor=actor,
        )
    return locked
