"""What PostgreSQL itself refuses, whatever the code does: ledger edits, negative buckets, reused keys."""

import pytest
from django.db import IntegrityError, connection, transaction

from apps.wallet.models import LedgerEntry, LedgerTransaction, Wallet
from tests.wallet.actions import GAME, bet, deposit
from tests.wallet.ledger import balances, entries, snapshot

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def sql(statement: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def refused(action) -> IntegrityError:
    """Run `action` in a savepoint; it must be refused by the database. Returns the error."""
    with pytest.raises(IntegrityError) as error, transaction.atomic():
        action()
    return error.value


@pytest.fixture
def ledger(funded_wallet):
    """A wallet with a bet (two entries) and a free spin (no entries) on its ledger."""
    staked = bet(funded_wallet, 1_000, "b-1")
    free = bet(funded_wallet, 0, "free-spin")
    return funded_wallet, staked.transaction_id, free.transaction_id


def ledger_rows() -> tuple[list, list]:
    return (
        sorted(LedgerTransaction.objects.values_list("pk", "kind", "amount", "external_id", "metadata")),
        sorted(LedgerEntry.objects.values_list("pk", "transaction_id", "bucket", "amount")),
    )


def test_the_append_only_triggers_are_installed():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgrelid::regclass::text, tgname FROM pg_trigger WHERE NOT tgisinternal"
            " AND tgrelid::regclass::text LIKE 'wallet_ledger%%' ORDER BY 1"
        )
        assert cursor.fetchall() == [
            ("wallet_ledgerentry", "wallet_ledgerentry_append_only"),
            ("wallet_ledgertransaction", "wallet_ledgertransaction_append_only"),
        ]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE wallet_ledgertransaction SET amount = 1 WHERE id = %(txn)s",
        "UPDATE wallet_ledgertransaction SET metadata = '{}'::jsonb, actor = 'someone' WHERE id = %(txn)s",
        "DELETE FROM wallet_ledgertransaction WHERE id = %(free)s",
        "UPDATE wallet_ledgerentry SET amount = amount * 2 WHERE transaction_id = %(txn)s",
        "DELETE FROM wallet_ledgerentry WHERE transaction_id = %(txn)s",
    ],
    ids=["update-amount", "update-other-columns", "delete-transaction", "update-entries", "delete-entries"],
)
def test_raw_sql_cannot_change_or_delete_ledger_rows(ledger, statement):
    _, txn, free = ledger
    before = ledger_rows()

    error = refused(lambda: sql(statement, {"txn": txn, "free": free}))

    assert "the ledger is append-only" in str(error)
    assert ledger_rows() == before


def test_the_orm_cannot_change_or_delete_ledger_rows(ledger):
    wallet, txn_id, free_id = ledger
    before = ledger_rows()
    txn = LedgerTransaction.objects.get(pk=txn_id)
    txn.amount = 1

    refused(lambda: txn.save())
    refused(lambda: LedgerTransaction.objects.filter(pk=txn_id).update(round_ref="forged"))
    refused(lambda: LedgerTransaction.objects.get(pk=free_id).delete())
    refused(lambda: LedgerEntry.objects.filter(transaction_id=txn_id).update(amount=5))
    refused(lambda: LedgerEntry.objects.filter(transaction_id=txn_id).delete())
    refused(lambda: LedgerEntry.objects.filter(transaction_id=txn_id).first().delete())

    assert ledger_rows() == before
    assert entries(txn_id) == {"cash": -1_000, "house:games": 1_000}
    assert balances(wallet) == {"cash": 9_000, "bonus": 0, "reserved": 0, "debt": 0}


def test_appending_is_still_allowed(ledger):
    wallet, _, _ = ledger

    deposit(wallet, 500, "dep-2")

    assert balances(wallet)["cash"] == 9_500


@pytest.mark.parametrize(
    ("bucket", "statement"),
    [
        ("cash", "UPDATE wallet_wallet SET cash = -1 WHERE id = %s"),
        ("bonus", "UPDATE wallet_wallet SET bonus = -1 WHERE id = %s"),
        ("reserved", "UPDATE wallet_wallet SET reserved = -1 WHERE id = %s"),
        ("debt", "UPDATE wallet_wallet SET debt = -1 WHERE id = %s"),
    ],
)
def test_no_bucket_can_go_negative_even_with_raw_sql(funded_wallet, bucket, statement):
    before = snapshot()

    error = refused(lambda: sql(statement, [funded_wallet.pk]))

    assert f"wallet_{bucket}_not_negative" in str(error)
    assert snapshot() == before


def test_a_raw_debit_beyond_the_cash_is_refused(funded_wallet):
    before = snapshot()

    refused(lambda: sql("UPDATE wallet_wallet SET cash = cash - 10001 WHERE id = %s", [funded_wallet.pk]))
    refused(lambda: Wallet.objects.filter(pk=funded_wallet.pk).update(cash=-5))

    assert snapshot() == before
    assert balances(funded_wallet)["cash"] == 10_000


def test_an_idempotency_key_can_exist_once_per_source(ledger):
    wallet, txn_id, _ = ledger
    original = LedgerTransaction.objects.get(pk=txn_id)

    def copy(source: str) -> LedgerTransaction:
        return LedgerTransaction.objects.create(
            wallet=wallet,
            brand_id=wallet.brand_id,
            kind="bet",
            source=source,
            external_id="b-1",
            fingerprint="0" * 64,
            amount=1,
            currency_id="GBP",
            actor="test",
        )

    error = refused(lambda: copy(GAME))

    assert "ledger_idempotency_key" in str(error)
    assert list(LedgerTransaction.objects.filter(source=GAME, external_id="b-1")) == [original]
    # the same external id under another source is another key
    assert copy("another-provider").external_id == "b-1"


def test_ledger_rows_cannot_be_inserted_half_done(ledger):
    wallet, txn_id, _ = ledger
    before = ledger_rows()

    zero = refused(
        lambda: LedgerEntry.objects.create(transaction_id=txn_id, wallet=wallet, bucket="cash", amount=0)
    )
    both_sides = refused(
        lambda: LedgerEntry.objects.create(
            transaction_id=txn_id,
            wallet=wallet,
            bucket="cash",
            house_account=wallet.brand.house_accounts.first(),
            amount=5,
        )
    )
    negative = refused(
        lambda: LedgerTransaction.objects.create(
            wallet=wallet,
            brand_id=wallet.brand_id,
            kind="bet",
            source=GAME,
            external_id="b-negative",
            fingerprint="0" * 64,
            amount=-1,
            currency_id="GBP",
            actor="test",
        )
    )

    assert "ledger_entry_not_zero" in str(zero)
    assert "ledger_entry_one_side" in str(both_sides)
    assert "ledger_amount_not_negative" in str(negative)
    assert ledger_rows() == before


def test_one_wallet_per_player_and_currency(funded_wallet):
    player = funded_wallet.player

    refused(lambda: Wallet.objects.create(player=player, brand_id=player.brand_id, currency_id="GBP"))

    assert Wallet.objects.filter(player=player).count() == 1
