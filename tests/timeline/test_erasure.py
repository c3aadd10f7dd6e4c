"""GDPR erasure: the player's personal data anonymised, purgeable timeline categories purged,
the entries the law requires kept without free text, permission-guarded (nothing changes on
a refusal), recorded, idempotent and resumable; a self-excluded person stays excluded."""

from datetime import UTC, date, datetime, timedelta

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.hashers import is_password_usable
from django.db import transaction
from django.urls import reverse

from apps.core.models import Event
from apps.players.events import PlayerLoggedIn, PlayerStatusChanged
from apps.players.exceptions import RegistrationRefused
from apps.players.models import PERSONAL_DATA_FIELDS, Player, PlayerToken
from apps.players.services import player_register, player_status_change
from apps.responsible_gaming import services as rg
from apps.responsible_gaming.interface import person_excluded
from apps.tenants.exceptions import AccessDenied
from apps.timeline.erasure import (
    _erasure_start,
    erasure_request_create,
    erasure_request_process,
    erasures_sweep,
)
from apps.timeline.exceptions import ErasureAlreadyRequested, ErasureRefused
from apps.timeline.handlers import timeline_entry_on_event
from apps.timeline.models import ErasureRequest, GameSummary, PurgeRecord, RetentionMark, TimelineEntry
from apps.timeline.retention import retention_run
from apps.timeline.services import timeline_rebuild
from apps.wallet.services import deposit_credit, wallet_get_or_create
from tests.factories import BrandFactory, PlayerFactory
from tests.helpers.staff import staff_login
from tests.timeline.conftest import PASSWORD
from tests.timeline.test_retention import (
    NOW,
    PROVIDER,
    announce,
    at,
    grant,
    login,
    policies_ensure,
    round_closed,
    rows_now,
    run_together,
    session_opened,
)

pytestmark = pytest.mark.django_db

ERASED_VALUES = {
    "email": "erased-{pk}@erased.invalid",
    "first_name": "Erased",
    "last_name": "Erased",
    "date_of_birth": date(1900, 1, 1),
    "address_line": "",
    "city": "",
    "postcode": "",
    "mobile": "",
    "national_id": "",
}


def personal(player) -> dict:
    player.refresh_from_db()
    return {name: getattr(player, name) for name in ("username", *PERSONAL_DATA_FIELDS)}


def lines(player) -> list[tuple[str, str]]:
    return [
        (e.category, e.summary)
        for e in TimelineEntry.objects.filter(player=player).order_by("occurred_at", "id")
    ]


@pytest.fixture
def officer(brand, make_staff):
    """A compliance person of the brand who may ask for and process erasures."""
    return grant(
        make_staff("Compliance officer", brands=[brand]),
        "view_erasurerequest",
        "add_erasurerequest",
        "process_erasure",
    )


@pytest.fixture
def history(alice, brand, live, make_staff):
    """Alice's life on the brand: logins, a deposit, a suspension and its end with reasons
    naming her, game play (one month already summarised) and an API session."""
    support = make_staff("Compliance officer", brands=[brand])
    login(alice, datetime(2026, 3, 1, 8, 0, tzinfo=UTC), live)
    wallet = wallet_get_or_create(player=alice, currency_code="GBP")
    with live():
        deposit_credit(wallet=wallet, amount=2_500, source="test", external_id="dep-1", actor=PROVIDER)
    with live():
        player_status_change(
            actor=support, player=alice, transition="suspend", reason="Alice Example called from 07400 123456"
        )
    with live():
        player_status_change(
            actor=support, player=alice, transition="reactivate", reason="Alice Example cleared"
        )
    session_opened(alice, 1, datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
    round_closed(alice, 1, datetime(2026, 3, 2, 10, 5, tzinfo=UTC), bet=500, win=200)
    round_closed(alice, 2, datetime(2026, 11, 25, 10, 5, tzinfo=UTC), bet=100, win=0)
    retention_run(now=NOW)
    login(alice, datetime(2026, 11, 28, 8, 0, tzinfo=UTC), live)  # the token stays open
    return alice


# --- what an erasure does ------------------------------------------------------------------------


def test_erasure_anonymises_the_player_and_closes_the_account(history, officer, live):
    alice = history
    erasure = erasure_request_create(actor=officer, player=alice, reason="E-mail of 28 Nov 2026")

    with live():
        done = erasure_request_process(actor=officer, erasure=erasure)

    assert done.status == "completed"
    assert personal(alice) == {
        "username": f"erased-{alice.pk}",
        **{name: (v.format(pk=alice.pk) if isinstance(v, str) else v) for name, v in ERASED_VALUES.items()},
    }
    assert (alice.status, alice.marketing_opt_in, is_password_usable(alice.password)) == (
        "closed",
        False,
        False,
    )
    assert alice.status_reason == f"GDPR erasure (request {erasure.pk})"
    assert not PlayerToken.objects.filter(player=alice, revoked_at__isnull=True).exists()
    # The audit trail says who changed which personal data, never the values.
    audit = LogEntry.objects.get_for_object(alice).filter(actor=officer).order_by("pk").first()
    assert audit.changes_dict["email"] == ["•••", "•••"]
    assert audit.changes_dict["first_name"] == ["•••", "•••"]


def test_erasure_purges_what_may_go_and_keeps_the_rest_without_free_text(history, officer, live):
    alice = history
    assert sorted(lines(alice)) == [
        ("game", "Game activity March 2026: 1 round, 1 session, bet 5.00 GBP, won 2.00"),
        ("game", "Round clt_dragonrising closed: bet 1.00 GBP, won 0.00"),
        ("login", "Logged in"),
        ("login", "Logged in"),
        ("payment", "Deposit credited"),
        ("registration", "Registered (GB, GBP)"),
        ("staff_action", "Status active -> suspended: Alice Example called from 07400 123456"),
        ("staff_action", "Status suspended -> active: Alice Example cleared"),
    ]
    erasure = erasure_request_create(actor=officer, player=alice, reason="E-mail of 28 Nov 2026")

    with live():
        done = erasure_request_process(actor=officer, erasure=erasure)

    kept = TimelineEntry.objects.filter(player=alice).order_by("occurred_at", "id")
    assert sorted((e.category, e.summary) for e in kept) == [
        ("payment", "Deposit credited"),
        ("registration", "Registered (GB, GBP)"),
        (
            "staff_action",
            "Profile changed: address_line, city, date_of_birth, email, first_name, last_name, mobile, "
            "postcode, username",
        ),
        ("staff_action", "Status active -> closed: [erased]"),
        ("staff_action", "Status active -> suspended: [erased]"),
        ("staff_action", "Status suspended -> active: [erased]"),
    ]
    assert all(e.redacted_at is not None for e in kept)
    assert [e.amount for e in kept if e.category == "payment"] == [2_500]
    assert not GameSummary.objects.filter(player=alice).exists()
    # Purged: two logins, the March summary, a round. Anonymised: the registration, the
    # deposit, the suspension and its end (the erasure's own two entries arrive anonymised).
    assert (done.entries_purged, done.entries_anonymised) == (4, 4)
    assert sorted(RetentionMark.objects.filter(player=alice).values_list("category", flat=True)) == [
        "communication",
        "game",
        "login",
    ]
    record = PurgeRecord.objects.get(erasure=done)
    assert (record.kind, record.brand_id, record.category, record.rows_removed, record.rows_anonymised) == (
        "erasure",
        alice.brand_id,
        "",
        4,
        4,
    )
    assert (record.status, record.actor) == ("finished", f"staff:{officer.pk}")
    completed = Event.objects.get(type="timeline.erasure_completed")
    assert (completed.player_id, completed.actor) == (alice.pk, f"staff:{officer.pk}")
    assert completed.payload == {
        "erasure_id": done.pk,
        "player_id": alice.pk,
        "brand_id": alice.brand_id,
        "entries_purged": 4,
        "entries_anonymised": 4,
        "categories_purged": ["communication", "game", "login"],
        "retained_fields": [],
    }
    assert done.processed_by_id == officer.pk and done.processed_at is not None


def test_processing_twice_changes_nothing_more(history, officer, live):
    erasure = erasure_request_create(actor=officer, player=history, reason="by post")
    with live():
        first = erasure_request_process(actor=officer, erasure=erasure)
    rows = rows_now()

    with live():
        again = erasure_request_process(actor=officer, erasure=erasure)

    assert (again.status, again.processed_at, again.entries_purged) == ("completed", first.processed_at, 4)
    assert rows_now() == rows
    assert Event.objects.filter(type="timeline.erasure_completed").count() == 1


def test_an_interrupted_erasure_is_finished_by_processing_again(history, officer, live):
    alice = history
    erasure = erasure_request_create(actor=officer, player=alice, reason="by post")
    # The worker anonymised the player and marked the categories, then died.
    with live(), transaction.atomic():
        locked = (
            ErasureRequest.objects.select_for_update().select_related("player", "brand").get(pk=erasure.pk)
        )
        _erasure_start(officer, locked, now=None)
    assert ErasureRequest.objects.get(pk=erasure.pk).status == "processing"
    assert TimelineEntry.objects.filter(player=alice, category="login").count() == 2

    with live():
        done = erasure_request_process(actor=officer, erasure=erasure, batch_size=2)

    assert (done.status, done.entries_purged, done.entries_anonymised) == ("completed", 4, 4)
    assert PurgeRecord.objects.filter(erasure=done).count() == 1


# --- nothing brings purged entries back, nor their free text -------------------------------------


def test_rebuild_after_an_erasure_gives_back_only_the_kept_entries_anonymised(history, officer, live):
    alice = history
    erasure = erasure_request_create(actor=officer, player=alice, reason="by post")
    with live():
        erasure_request_process(actor=officer, erasure=erasure)
    after = [row for row in rows_now() if row[1] == alice.pk]

    assert timeline_rebuild(player_id=alice.pk) == 0
    TimelineEntry.objects.filter(player=alice).delete()
    timeline_rebuild(player_id=alice.pk)

    assert [row for row in rows_now() if row[1] == alice.pk] == after
    assert TimelineEntry.objects.filter(player=alice, redacted_at__isnull=True).count() == 0


def test_events_after_the_erasure_are_dropped_or_anonymised(history, officer, live, brand):
    alice = history
    erasure = erasure_request_create(actor=officer, player=alice, reason="by post")
    with live():
        erasure_request_process(actor=officer, erasure=erasure)
    old_login = Event.objects.filter(type="players.login_succeeded", player_id=alice.pk).first()

    timeline_entry_on_event([old_login])  # a late redelivery
    # An event written before the erasure, delivered after it (a delayed dispatch).
    late_event = announce(
        PlayerStatusChanged(
            player_id=alice.pk,
            brand_id=brand.pk,
            old_status="closed",
            new_status="closed",
            reason="Alice again",
        ),
        actor=officer,
    )

    assert not TimelineEntry.objects.filter(player=alice, category="login").exists()
    late = TimelineEntry.objects.get(event=late_event)
    assert (late.category, late.summary, late.redacted_at is not None) == (
        "staff_action",
        "Status closed -> closed: [erased]",
        True,
    )


def test_the_sweep_anonymises_an_entry_a_racing_delivery_wrote_raw(history, officer, live, make_staff, brand):
    alice = history
    erasure = erasure_request_create(actor=officer, player=alice, reason="by post")
    with live():
        erasure_request_process(actor=officer, erasure=erasure)
    # As if written by a handler that read "not erased" just before the erasure committed.
    raw = TimelineEntry.objects.create(
        player=alice, brand=brand, occurred_at=NOW, category="staff_action", summary="Note: Alice Example"
    )

    assert erasures_sweep() == {"released": 0, "redacted": 1}

    raw.refresh_from_db()
    assert raw.redacted_at is not None
    assert erasures_sweep() == {"released": 0, "redacted": 0}


def test_kept_entries_go_once_the_legal_period_after_the_erasure_ends(history, officer, live):
    alice = history
    erasure = erasure_request_create(actor=officer, player=alice, reason="by post")
    with live():
        done = erasure_request_process(actor=officer, erasure=erasure)
    assert retention_run(now=done.processed_at + timedelta(days=1000)) == []

    records = retention_run(now=done.processed_at + timedelta(days=1829))

    assert sorted((r.kind, r.category, r.rows_removed) for r in records) == [
        ("erased", "payment", 1),
        ("erased", "registration", 1),
        ("erased", "staff_action", 4),
    ]
    assert not TimelineEntry.objects.filter(player=alice).exists()
    timeline_rebuild(player_id=alice.pk)
    assert not TimelineEntry.objects.filter(player=alice).exists()


# --- an excluded person stays excluded -------------------------------------------------------------


def test_a_self_excluded_player_keeps_what_recognises_them_until_the_exclusion_ends(
    alice, brand, officer, live
):
    with live():
        rg.self_exclusion_start(actor=alice, player=alice, months=6)
    erasure = erasure_request_create(actor=officer, player=alice, reason="by post")

    with live():
        done = erasure_request_process(actor=officer, erasure=erasure)

    assert done.retained_fields == ["email", "date_of_birth"]
    kept = personal(alice)
    assert (kept["email"], kept["date_of_birth"], kept["first_name"], kept["mobile"]) == (
        "alice@example.com",
        date(1990, 5, 17),
        "Erased",
        "",
    )
    assert person_excluded(
        operator_id=brand.operator_id,
        brand_id=brand.pk,
        email="ALICE@example.com",
        date_of_birth=date(1990, 5, 17),
    )
    with pytest.raises(RegistrationRefused) as refused:
        player_register(
            brand=brand,
            username="alice2",
            email="alice@example.com",
            password=PASSWORD,
            first_name="Alice",
            last_name="Example",
            date_of_birth=date(1990, 5, 17),
            country="GB",
            address_line="2 High Street",
            city="London",
            postcode="SW1A 2AA",
            mobile="+447400123999",
        )
    assert refused.value.code == "self_excluded"
    assert erasures_sweep() == {"released": 0, "redacted": 0}

    # Six months and the cooling-off later the exclusion is over: the identifiers go too.
    with at(datetime.now(UTC) + timedelta(days=200)), live():
        assert erasures_sweep()["released"] == 1

    done.refresh_from_db()
    assert (done.retained_fields, done.retained_released_at is not None) == ([], True)
    assert personal(alice)["email"] == f"erased-{alice.pk}@erased.invalid"
    assert personal(alice)["date_of_birth"] == date(1900, 1, 1)
    released = Event.objects.get(type="timeline.erasure_retained_released")
    assert (released.payload["fields"], released.actor) == (["email", "date_of_birth"], "system:retention")


# --- permissions ----------------------------------------------------------------------------------------


def state_of(player) -> tuple:
    return (
        personal(player),
        player.status,
        rows_now(),
        list(ErasureRequest.objects.values_list("pk", "status", "entries_purged")),
        PurgeRecord.objects.filter(kind="erasure").count(),
        Event.objects.filter(type__startswith="timeline.erasure").count(),
    )


@pytest.mark.parametrize("who", ["without_permission", "other_brand", "inactive"])
def test_processing_is_refused_without_the_permission_on_the_brand_and_nothing_changes(
    history, officer, other_brand, make_staff, who
):
    staff = {
        "without_permission": lambda: make_staff("Support agent", brands=[history.brand]),
        "other_brand": lambda: grant(
            make_staff("Compliance officer", brands=[other_brand]), "add_erasurerequest", "process_erasure"
        ),
        "inactive": lambda: grant(
            make_staff("Compliance officer", brands=[history.brand], is_active=False), "process_erasure"
        ),
    }[who]()
    erasure = erasure_request_create(actor=officer, player=history, reason="by post")
    before = state_of(history)

    with pytest.raises(AccessDenied):
        erasure_request_process(actor=staff, erasure=erasure)

    assert state_of(history) == before


@pytest.mark.parametrize("who", ["without_permission", "other_brand"])
def test_asking_is_refused_without_the_permission_on_the_brand_and_nothing_changes(
    history, other_brand, make_staff, who
):
    staff = {
        "without_permission": lambda: make_staff("Support agent", brands=[history.brand]),
        "other_brand": lambda: grant(make_staff("Support agent", brands=[other_brand]), "add_erasurerequest"),
    }[who]()
    before = state_of(history)

    with pytest.raises(AccessDenied):
        erasure_request_create(actor=staff, player=history, reason="by post")

    assert state_of(history) == before


def test_a_request_needs_a_reason_and_only_one_is_open_at_a_time(history, officer, live):
    with pytest.raises(ErasureRefused) as refused:
        erasure_request_create(actor=officer, player=history, reason="  ")
    assert refused.value.code == "reason_required"
    erasure = erasure_request_create(actor=officer, player=history, reason="by post")
    assert Event.objects.get(type="timeline.erasure_requested").payload == {
        "erasure_id": erasure.pk,
        "player_id": history.pk,
        "brand_id": history.brand_id,
    }

    with pytest.raises(ErasureAlreadyRequested):
        erasure_request_create(actor=officer, player=history, reason="by e-mail too")
    with live():
        erasure_request_process(actor=officer, erasure=erasure)
    with pytest.raises(ErasureRefused) as refused:
        erasure_request_create(actor=officer, player=history, reason="again")
    assert refused.value.code == "already_erased"
    assert ErasureRequest.objects.count() == 1


# --- the admin door ---------------------------------------------------------------------------------------


def test_the_admin_adds_a_request_and_its_action_processes_it(client, history, officer):
    staff_login(client, officer)

    response = client.post(
        reverse("admin:timeline_erasurerequest_add"), {"player": history.pk, "reason": "Phone call, verified"}
    )
    assert response.status_code == 302, response.content[:2000]
    erasure = ErasureRequest.objects.get()
    assert (erasure.requested_by_id, erasure.brand_id, erasure.status) == (
        officer.pk,
        history.brand_id,
        "pending",
    )

    response = client.post(
        reverse("admin:timeline_erasurerequest_changelist"),
        {"action": "process", "_selected_action": [erasure.pk]},
    )

    assert response.status_code == 302
    erasure.refresh_from_db()
    assert erasure.status == "completed"
    assert Player.objects.get(pk=history.pk).username == f"erased-{history.pk}"
    grant(officer, "view_purgerecord")
    pages = [
        reverse("admin:timeline_erasurerequest_changelist"),
        reverse("admin:timeline_erasurerequest_add"),
        reverse("admin:timeline_erasurerequest_change", args=[erasure.pk]),
        reverse("admin:timeline_purgerecord_changelist"),
        reverse("admin:timeline_timelineentry_changelist") + f"?player={history.pk}",
    ]
    assert [client.get(page).status_code for page in pages] == [200] * 5


def test_the_admin_action_refuses_staff_without_the_permission(client, history, officer, make_staff):
    erasure = erasure_request_create(actor=officer, player=history, reason="by post")
    viewer = make_staff("Auditor", brands=[history.brand])  # reads erasure requests, processes none
    staff_login(client, viewer)

    response = client.post(
        reverse("admin:timeline_erasurerequest_changelist"),
        {"action": "process", "_selected_action": [erasure.pk]},
    )

    assert response.status_code == 200  # the action is not offered: Django answers with the list
    erasure.refresh_from_db()
    assert erasure.status == "pending"
    assert personal(history)["username"] == "alice"


# --- two workers on one request (PostgreSQL, real transactions) ------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_processing_one_request_finish_it_once_with_exact_counts(operator, make_staff):
    policies_ensure()
    brand = BrandFactory(operator=operator, code="race-erasure", jurisdiction="GB", currencies=["GBP"])
    player = PlayerFactory(brand=brand)
    officer = grant(make_staff("Compliance officer", brands=[brand]), "add_erasurerequest", "process_erasure")
    for i in range(30):
        announce(PlayerLoggedIn(player_id=player.pk, brand_id=brand.pk, ip=f"198.51.100.{i}"), actor=player)
        announce(
            PlayerStatusChanged(
                player_id=player.pk,
                brand_id=brand.pk,
                old_status="active",
                new_status="active",
                reason=f"note {i}",
            ),
            actor=officer,
        )
    erasure = erasure_request_create(actor=officer, player=player, reason="by post")

    outcomes = run_together(
        [lambda: erasure_request_process(actor=officer, erasure=erasure, batch_size=4) for _ in range(2)]
    )

    assert [kind for kind, _ in outcomes] == ["ok", "ok"], outcomes
    erasure.refresh_from_db()
    assert (erasure.status, erasure.entries_purged, erasure.entries_anonymised) == ("completed", 30, 30)
    assert Event.objects.filter(type="timeline.erasure_completed").count() == 1
    assert not TimelineEntry.objects.filter(player=player, category="login").exists()
    assert not TimelineEntry.objects.filter(player=player, redacted_at__isnull=True).exists()
    assert TimelineEntry.objects.filter(player=player, summary__contains="note").count() == 0
