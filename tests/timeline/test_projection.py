"""Each kind of event the timeline maps gives one entry, driven through the real services."""

import pytest

from apps.core.actors import system_actor
from apps.core.models import Event
from apps.exclusions.fakes import FakeGamstop
from apps.exclusions.models import Register, RegisterConfig
from apps.exclusions.services import check_now
from apps.payments import services as payments
from apps.players.exceptions import InvalidCredentials
from apps.players.services import player_login, player_status_change
from apps.responsible_gaming import services as rg
from apps.timeline.models import TimelineEntry
from apps.wallet.services import bet_place, deposit_credit, wallet_get_or_create
from tests.timeline.conftest import PASSWORD, entries_of

PROVIDER = system_actor("test-provider")
pytestmark = pytest.mark.django_db


def only_entry(player, event_type):
    event = Event.objects.get(type=event_type, player_id=player.pk)
    return event, TimelineEntry.objects.get(event=event)


def test_registration_makes_a_registration_entry(alice, brand):
    event, entry = only_entry(alice, "players.player_registered")

    assert (entry.player_id, entry.brand_id, entry.category) == (alice.pk, brand.pk, "registration")
    assert entry.summary == "Registered (GB, GBP)"
    assert (entry.source_type, entry.source_id, entry.currency) == ("players.player", alice.pk, "GBP")
    assert entry.actor == f"player:{alice.pk}"
    assert entry.occurred_at == event.occurred_at


def test_logins_succeeded_and_refused_make_login_entries(alice, brand, live):
    with live():
        player_login(brand_code=brand.code, login="alice", password=PASSWORD, ip="203.0.113.9")
    with live(), pytest.raises(InvalidCredentials):
        player_login(brand_code=brand.code, login="alice", password="wrong", ip="203.0.113.9")

    logins = entries_of(alice, category="login")

    assert [e.summary for e in logins] == ["Logged in", "Login refused: bad_password"]
    assert all("203.0.113.9" not in e.summary for e in logins)


def test_a_status_change_by_staff_is_a_staff_action(alice, brand, live, make_staff):
    officer = make_staff("Compliance officer", brands=[brand])

    with live():
        player_status_change(actor=officer, player=alice, transition="suspend", reason="fraud check")

    _, entry = only_entry(alice, "players.status_changed")
    assert (entry.category, entry.summary) == ("staff_action", "Status active -> suspended: fraud check")
    assert entry.actor == f"staff:{officer.pk}"


def test_a_wallet_deposit_is_a_payment_entry_with_its_amount(alice, live):
    wallet = wallet_get_or_create(player=alice, currency_code="GBP")

    with live():
        result = deposit_credit(wallet=wallet, amount=2_500, source="test", external_id="d-1", actor=PROVIDER)

    _, entry = only_entry(alice, "wallet.deposit_credited")
    assert (entry.category, entry.summary, entry.amount, entry.currency) == (
        "payment",
        "Deposit credited",
        2_500,
        "GBP",
    )
    assert (entry.source_type, entry.source_id) == ("wallet.ledgertransaction", result.transaction_id)


def test_bets_make_no_entry(alice, live):
    wallet = wallet_get_or_create(player=alice, currency_code="GBP")
    with live():
        deposit_credit(wallet=wallet, amount=2_500, source="test", external_id="d-1", actor=PROVIDER)
        bet_place(
            wallet=wallet, amount=100, source="test", external_id="b-1", actor=PROVIDER, round_ref="r-1"
        )

    assert Event.objects.filter(type="wallet.bet_placed", player_id=alice.pk).count() == 1
    assert [e.summary for e in entries_of(alice, category="payment")] == ["Deposit credited"]


def test_a_payment_deposit_is_told_by_the_payment_events_only(alice, live):
    alice.kyc_status = "verified"
    alice.save(update_fields=["kyc_status"])

    with live():
        payment = payments.deposit_initiate(
            player=alice,
            amount=5_000,
            currency="GBP",
            method="card",
            card_type="debit",
            provider="paymentiq",
            actor=PROVIDER,
        )
    with live():
        payments.deposit_confirm(payment_id=payment.pk, actor=PROVIDER)

    payment_entries = entries_of(alice, category="payment")
    assert [e.summary for e in payment_entries] == [
        f"Deposit started (card, {payment.reference})",
        f"Deposit completed (card, {payment.reference})",
    ]
    assert {(e.amount, e.currency, e.source_type, e.source_id) for e in payment_entries} == {
        (5_000, "GBP", "payments.payment", payment.pk)
    }
    # the wallet's credit of the same money has an event but no second entry
    credited = Event.objects.get(type="wallet.deposit_credited", player_id=alice.pk)
    assert not TimelineEntry.objects.filter(event=credited).exists()


def test_a_limit_change_is_a_limit_entry(alice, live):
    with live():
        change = rg.limit_set(actor=alice, player=alice, kind="deposit", period="day", amount=10_000)

    _, entry = only_entry(alice, "responsible_gaming.limit_changed")
    assert (entry.category, entry.summary) == ("limit", "day deposit limit none -> 10000 (applied)")
    assert (entry.amount, entry.currency) == (10_000, "GBP")
    assert (entry.source_type, entry.source_id) == ("responsible_gaming.limitchange", change.pk)


def test_a_time_out_is_an_exclusion_entry(alice, live):
    with live():
        exclusion = rg.timeout_start(actor=alice, player=alice, hours=24, reason="break")

    _, entry = only_entry(alice, "responsible_gaming.exclusion_started")
    assert entry.category == "exclusion"
    assert entry.summary.startswith("Timeout started (")
    assert (entry.source_type, entry.source_id) == ("responsible_gaming.exclusion", exclusion.pk)


def test_a_register_check_that_excludes_makes_check_and_exclusion_entries(alice, brand, live, make_staff):
    agent = make_staff("Support agent", brands=[brand])
    with FakeGamstop(excluded={"alice@example.com": "Y"}) as gamstop:
        RegisterConfig.objects.create(
            brand=brand,
            register=Register.GAMSTOP,
            base_url=gamstop.url,
            batch_url=gamstop.batch_url,
            api_key=gamstop.api_key,
            timeout_seconds=2.0,
        )
        with live():
            (check,) = check_now(actor=agent, player=alice)

    _, checked = only_entry(alice, "exclusions.register_checked")
    _, excluded = only_entry(alice, "exclusions.player_excluded_by_register")
    assert (checked.category, checked.summary) == ("register_check", "gamstop check (manual): excluded")
    assert (excluded.category, excluded.summary) == ("exclusion", "Excluded by gamstop (manual)")
    assert {checked.source_id, excluded.source_id} == {check.pk}
    # the register's word moved the player's status (a system action, not staff)
    _, status = only_entry(alice, "players.status_changed")
    assert status.category == "registration"
    assert status.summary.startswith("Status active -> self_excluded")


def test_events_about_no_player_make_no_entry(alice, brand, live, make_staff):
    from apps.players.selectors import players_visible_to
    from apps.players.services import players_export_csv

    officer = make_staff("Compliance officer", brands=[brand])
    with live():
        players_export_csv(actor=officer, players=players_visible_to(officer))

    exported = Event.objects.get(type="players.exported")
    assert not TimelineEntry.objects.filter(event=exported).exists()
    assert TimelineEntry.objects.count() == 1  # the registration only
