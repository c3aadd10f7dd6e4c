"""Wallet behaviour the Hub88 protocol relies on, found missing while building the adapter."""

import pytest

from apps.wallet.models import LedgerTransaction
from tests.games.conftest import cash_of, money_state

pytestmark = pytest.mark.django_db


def test_a_rollback_id_answered_once_cannot_later_undo_another_bet(hub88, movement, wallet):
    first, second = movement("bet"), movement("bet")
    hub88("bet", first)
    hub88("bet", second)
    assert hub88(
        "rollback", movement("rollback", reference_transaction_uuid=first["transaction_uuid"])
    ).status == ("RS_OK")
    # A second rollback of the same bet, under a new id: RS_OK, nothing more to undo
    late = movement("rollback", reference_transaction_uuid=first["transaction_uuid"])
    assert hub88("rollback", late).status == "RS_OK"
    before = money_state(wallet)
    # When that same id arrives again with another reference
    reply = hub88("rollback", {**late, "reference_transaction_uuid": second["transaction_uuid"]})
    # Then it is a duplicate (same transaction_uuid, different reference) and undoes nothing
    assert reply.status == "RS_ERROR_DUPLICATE_TRANSACTION"
    assert money_state(wallet) == before
    assert cash_of(wallet) == 10_000 - 100
    assert not LedgerTransaction.objects.filter(reverses__external_id=second["transaction_uuid"]).exists()
