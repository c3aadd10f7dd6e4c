"""The event of every money movement: its payload is the event class's fields, with the
balances after the movement (written by the same statement that moves the money)."""

import dataclasses

import pytest

from apps.core.models import Event
from apps.wallet import events as wallet_events
from apps.wallet import services
from tests.wallet.actions import BONUSES, PAYMENTS, PSP, bet, deposit, rollback, win
from tests.wallet.ledger import balances

pytestmark = pytest.mark.django_db


def _event_classes() -> dict[str, type]:
    classes, todo = {}, [wallet_events.WalletTransactionPosted]
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if cls.event_type:
            classes[cls.event_type] = cls
    return classes


def test_every_movement_publishes_exactly_its_class_fields_and_the_balances_after_it(funded_wallet):
    classes = _event_classes()
    start = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0
    after = []

    def then(result):
        after.append((result.transaction_id, balances(funded_wallet)))

    then(deposit(funded_wallet, 500, "d-1"))
    then(bet(funded_wallet, 1_200, "b-1"))
    then(win(funded_wallet, 300, "w-1", "b-1"))
    then(rollback(funded_wallet, "rb-1", "w-1"))
    then(bet(funded_wallet, 0, "b-free"))  # moves nothing, still an event
    for call, key in (
        (services.withdrawal_reserve, "wd-r"),
        (services.withdrawal_release, "wd-l"),
        (services.withdrawal_reserve, "wd-r2"),
        (services.withdrawal_settle, "wd-s"),
    ):
        then(call(wallet=funded_wallet, amount=100, source=PAYMENTS, external_id=key, actor=PSP))
    bonus = {"wallet": funded_wallet, "source": BONUSES, "actor": PSP}
    then(services.bonus_grant(amount=700, external_id="g-1", **bonus))
    then(services.bonus_convert(amount=200, external_id="c-1", **bonus))

    published = list(Event.objects.filter(id__gt=start, type__startswith="wallet.").order_by("id"))
    assert [e.payload["transaction_id"] for e in published] == [txn for txn, _ in after]
    for event, (_, balances_after) in zip(published, after, strict=True):
        fields = {f.name for f in dataclasses.fields(classes[event.type])}
        assert set(event.payload) == fields, event.type
        assert {b: event.payload[b] for b in balances_after} == balances_after, event.type
        assert (event.brand_id, event.player_id) == (funded_wallet.brand_id, funded_wallet.player_id)
        assert event.actor in {"provider:hub88", "system:payments"}
