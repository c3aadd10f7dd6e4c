"""Retention of the timeline: purge by category and jurisdiction, monthly game summaries,
batches that resume, runs that repeat (and race) without double counting, and a rebuild
that brings back nothing retention removed. Time travels with time_machine; the run is
given its `now`."""

import importlib
import io
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from auditlog.models import LogEntry
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import connection, transaction
from django.urls import reverse

from apps.core.actors import system_actor
from apps.core.events import publish
from apps.core.models import Event
from apps.games.events import GameSessionOpened, RoundClosed, RoundCorrected
from apps.players.services import player_login
from apps.tenants.exceptions import AccessDenied
from apps.timeline.exceptions import PolicyRefused
from apps.timeline.handlers import timeline_entry_on_event
from apps.timeline.models import GameSummary, PurgeRecord, RetentionMark, RetentionPolicy, TimelineEntry
from apps.timeline.retention import (
    _batch,
    _record_start,
    policies_effective,
    retention_policy_set,
    retention_run,
)
from apps.timeline.services import timeline_rebuild
from apps.timeline.tasks import retention_run_task
from apps.wallet.services import deposit_credit, wallet_get_or_create
from tests.factories import BrandFactory, PlayerFactory
from tests.helpers.staff import staff_login
from tests.timeline.conftest import PASSWORD, entries_of, entry_rows

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
OLD = datetime(2024, 6, 1, 9, 0, tzinfo=UTC)  # older than the 2 years of logins
GAMES = system_actor("games")
PROVIDER = system_actor("test-provider")


def at(moment: datetime):
    return time_machine.travel(moment, tick=False)


def policies_ensure() -> None:
    """Put back the data migration's default rules (a transaction=True test's flush removes them)."""
    migration = importlib.import_module("apps.timeline.migrations.0003_retention_defaults")
    for category, action, after_days, basis in migration.DEFAULTS:
        RetentionPolicy.objects.get_or_create(
            category=category,
            brand=None,
            jurisdiction="",
            defaults={"action": action, "after_days": after_days, "legal_basis": basis[:200]},
        )


def grant(user, *codenames):
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="timeline", codename__in=codenames)
    )
    # has_perm caches what it read; the next check must see the new grants.
    for cache in ("_perm_cache", "_user_perm_cache", "_group_perm_cache"):
        user.__dict__.pop(cache, None)
    return user


def announce(event, *, actor=GAMES) -> Event:
    """Publish an event and deliver it, as a service's commit does with eager Celery."""
    with transaction.atomic():
        row = publish(event, actor=actor)
    from apps.core.outbox import event_dispatch

    event_dispatch(event_id=row.pk)
    return row


def round_closed(player, round_id: int, when: datetime, *, bet: int, win: int, currency="GBP") -> Event:
    with at(when):
        return announce(RoundClosed(**_round(player, round_id, when, bet, win, currency)))


def round_corrected(
    player, round_id: int, when: datetime, closed_at: datetime, *, bet: int, win: int
) -> Event:
    with at(when):
        return announce(RoundCorrected(**_round(player, round_id, closed_at, bet, win, "GBP")))


def _round(player, round_id, closed_at, bet, win, currency) -> dict:
    return {
        "round_id": round_id,
        "player_id": player.pk,
        "brand_id": player.brand_id,
        "provider": "hub88",
        "round_ref": f"r-{round_id}",
        "game_code": "clt_dragonrising",
        "currency": currency,
        "currency_exponent": 2,
        "bet_total": bet,
        "win_total": win,
        "rollbacks": 0,
        "opened_at": (closed_at - timedelta(minutes=1)).isoformat(),
        "closed_at": closed_at.isoformat(),
    }


def session_opened(player, session_id: int, when: datetime) -> Event:
    with at(when):
        return announce(
            GameSessionOpened(
                session_id=session_id,
                player_id=player.pk,
                brand_id=player.brand_id,
                provider="hub88",
                game_code="clt_dragonrising",
                currency="GBP",
                expires_at=(when + timedelta(hours=1)).isoformat(),
            )
        )


def login(player, when: datetime, live) -> None:
    with at(when), live():
        player_login(brand_code=player.brand.code, login=player.username, password=PASSWORD)


def record_row(record: PurgeRecord) -> tuple:
    return (
        record.kind,
        record.brand_id,
        record.jurisdiction,
        record.category,
        record.action,
        record.after_days,
        record.cutoff,
        record.rows_removed,
        record.rows_summarised,
        record.summaries_written,
        record.status,
        record.actor,
    )


def rows_now() -> list[tuple]:
    """entry_rows, in an order that holds for summaries too (they have no event)."""
    return sorted(entry_rows(), key=lambda row: (row[0] or 0, row[1], row[3], row[9] or 0))


def game_lines(player) -> list[str]:
    return [
        e.summary
        for e in TimelineEntry.objects.filter(player=player, category="game").order_by("occurred_at", "id")
    ]


def summary_of(player, month: date, currency="GBP") -> GameSummary:
    return GameSummary.objects.select_related("entry").get(player=player, month=month, currency=currency)


# --- policies ---------------------------------------------------------------------------------


def test_the_default_rules_are_seeded_and_apply_to_every_brand(brand):
    effective = policies_effective(brand)

    assert {c: (e.action, e.after_days, e.level) for c, e in effective.items()} == {
        "registration": ("keep", 1827, "default"),
        "login": ("purge", 730, "default"),
        "payment": ("keep", 1827, "default"),
        "game": ("summarise", 180, "default"),
        "bonus": ("keep", 1827, "default"),
        "limit": ("keep", 1827, "default"),
        "exclusion": ("keep", 1827, "default"),
        "register_check": ("keep", 1827, "default"),
        "staff_action": ("keep", 1827, "default"),
        "communication": ("purge", 730, "default"),
    }


def rule(effective) -> tuple:
    return (effective.action, effective.after_days, effective.policy_id, effective.level)


def test_a_brand_row_wins_over_its_jurisdiction_which_wins_over_the_default(brand, other_brand, superuser):
    se_rule = retention_policy_set(
        actor=superuser, category="login", action="purge", after_days=90, jurisdiction="SE"
    )
    se_brand_two = BrandFactory(
        operator=other_brand.operator, code="brand-c", jurisdiction="SE", currencies=["SEK"]
    )
    brand_rule = retention_policy_set(
        actor=superuser, category="login", action="purge", after_days=30, brand=se_brand_two
    )
    default_rule = RetentionPolicy.objects.get(category="login", brand=None, jurisdiction="")

    assert rule(policies_effective(brand)["login"]) == ("purge", 730, default_rule.pk, "default")
    assert rule(policies_effective(other_brand)["login"]) == ("purge", 90, se_rule.pk, "jurisdiction")
    assert rule(policies_effective(se_brand_two)["login"]) == ("purge", 30, brand_rule.pk, "brand")


def test_a_category_without_any_rule_is_kept(brand):
    RetentionPolicy.objects.filter(category="login").delete()

    assert rule(policies_effective(brand)["login"]) == ("keep", None, None, "none")


def test_policy_changes_matrix_with_permission_without_and_other_brand(brand, other_brand, make_staff):
    admin_here = grant(make_staff(brands=[brand]), "add_retentionpolicy", "change_retentionpolicy")
    no_permission = make_staff(brands=[brand])
    admin_elsewhere = grant(make_staff(brands=[other_brand]), "add_retentionpolicy", "change_retentionpolicy")
    rows_before = list(RetentionPolicy.objects.order_by("pk").values_list("pk", "action", "after_days"))

    for actor in (no_permission, admin_elsewhere):
        with pytest.raises(AccessDenied):
            retention_policy_set(actor=actor, category="login", action="purge", after_days=365, brand=brand)
    with pytest.raises(AccessDenied):  # platform rows are the superusers'
        retention_policy_set(actor=admin_here, category="login", action="purge", after_days=365)
    assert (
        list(RetentionPolicy.objects.order_by("pk").values_list("pk", "action", "after_days")) == rows_before
    )
    assert not Event.objects.filter(type="timeline.retention_policy_changed").exists()

    policy = retention_policy_set(
        actor=admin_here,
        category="login",
        action="purge",
        after_days=365,
        brand=brand,
        legal_basis="brand policy",
    )

    assert (policy.brand_id, policy.jurisdiction, policy.action, policy.after_days) == (
        brand.pk,
        "",
        "purge",
        365,
    )
    event = Event.objects.get(type="timeline.retention_policy_changed")
    assert (event.brand_id, event.actor, event.payload["after_days"]) == (
        brand.pk,
        f"staff:{admin_here.pk}",
        365,
    )
    audit = LogEntry.objects.get_for_object(policy).get()
    assert (audit.action, audit.actor_id) == (LogEntry.Action.CREATE, admin_here.pk)


@pytest.mark.parametrize(
    "category, action, after_days, code",
    [
        ("payment", "purge", 3650, "below_legal_minimum"),
        ("payment", "keep", 1000, "below_legal_minimum"),
        ("login", "summarise", 30, "summarise_game_only"),
        ("login", "purge", 0, "invalid_period"),
    ],
)
def test_a_brand_row_may_not_keep_less_than_the_law_requires(
    brand, make_staff, category, action, after_days, code
):
    admin_here = grant(make_staff(brands=[brand]), "add_retentionpolicy", "change_retentionpolicy")

    with pytest.raises(PolicyRefused) as refused:
        retention_policy_set(
            actor=admin_here, category=category, action=action, after_days=after_days, brand=brand
        )

    assert refused.value.code == code
    assert not RetentionPolicy.objects.filter(brand=brand).exists()


def test_a_brand_may_keep_longer_than_the_law_requires(brand, make_staff):
    admin_here = grant(make_staff(brands=[brand]), "add_retentionpolicy")

    policy = retention_policy_set(
        actor=admin_here, category="payment", action="keep", after_days=3650, brand=brand
    )

    assert rule(policies_effective(brand)["payment"]) == ("keep", 3650, policy.pk, "brand")


# --- purge --------------------------------------------------------------------------------------


@pytest.fixture
def two_jurisdictions(brand, other_brand, register, superuser, live):
    """Alice on the GB brand, Bob on the SE brand (whose jurisdiction purges logins after 90
    days); logins old and new, registrations and a deposit long ago."""
    retention_policy_set(actor=superuser, category="login", action="purge", after_days=90, jurisdiction="SE")
    with at(OLD):
        alice = register(brand)
        bob = PlayerFactory(brand=other_brand, username="bob")
        bob.set_password(PASSWORD)
        bob.save()
        wallet = wallet_get_or_create(player=alice, currency_code="GBP")
        with live():
            deposit_credit(wallet=wallet, amount=1_000, source="test", external_id="old-1", actor=PROVIDER)
    login(alice, OLD, live)
    login(alice, datetime(2026, 10, 1, tzinfo=UTC), live)
    login(bob, OLD, live)
    login(bob, datetime(2026, 8, 1, tzinfo=UTC), live)
    login(bob, datetime(2026, 11, 20, tzinfo=UTC), live)
    return alice, bob


def test_purge_by_category_and_jurisdiction(two_jurisdictions, brand, other_brand):
    alice, bob = two_jurisdictions

    records = retention_run(now=NOW)

    assert [e.occurred_at for e in entries_of(alice, category="login")] == [datetime(2026, 10, 1, tzinfo=UTC)]
    assert [e.occurred_at for e in entries_of(bob, category="login")] == [datetime(2026, 11, 20, tzinfo=UTC)]
    # Kept categories are untouched, however old.
    assert [
        (e.category, e.occurred_at) for e in entries_of(alice, category__in=["registration", "payment"])
    ] == [
        ("registration", OLD),
        ("payment", OLD),
    ]
    gb_login = policies_effective(brand)["login"].policy_id
    se_login = policies_effective(other_brand)["login"].policy_id
    assert [record_row(r) for r in records] == [
        (
            "age",
            brand.pk,
            "GB",
            "login",
            "purge",
            730,
            datetime(2024, 12, 1, tzinfo=UTC),
            1,
            0,
            0,
            "finished",
            "system:retention",
        ),
        (
            "age",
            other_brand.pk,
            "SE",
            "login",
            "purge",
            90,
            datetime(2026, 9, 2, tzinfo=UTC),
            2,
            0,
            0,
            "finished",
            "system:retention",
        ),
    ]
    assert [r.policy_id for r in records] == [gb_login, se_login]
    assert [r.finished_at is not None for r in records] == [True, True]
    announced = Event.objects.filter(type="timeline.retention_applied").order_by("pk")
    assert [(e.brand_id, e.payload["category"], e.payload["rows_removed"], e.actor) for e in announced] == [
        (brand.pk, "login", 1, "system:retention"),
        (other_brand.pk, "login", 2, "system:retention"),
    ]


def test_running_twice_removes_nothing_more_and_records_nothing_more(two_jurisdictions):
    retention_run(now=NOW)
    rows = rows_now()

    again = retention_run(now=NOW)

    assert again == []
    assert rows_now() == rows
    assert PurgeRecord.objects.count() == 2


def test_a_run_goes_in_batches_and_an_interrupted_run_resumes_its_record(alice, brand, live):
    for minute in range(5):
        login(alice, OLD + timedelta(minutes=minute), live)
    effective = policies_effective(brand)["login"]
    cutoff = datetime(2024, 12, 1, tzinfo=UTC)
    # A worker started the unit and got one batch of two done before it died.
    record = _record_start(brand, effective, "age", "purge", cutoff)
    assert _batch(record, 2) == 2
    assert TimelineEntry.objects.filter(player=alice, category="login").count() == 3

    # The next tick, a day later, carries on the same record with its cutoff.
    records = retention_run(now=NOW + timedelta(days=1), batch_size=2)

    assert [r.pk for r in records] == [record.pk]
    assert record_row(records[0])[6:11] == (cutoff, 5, 0, 0, "finished")
    assert not TimelineEntry.objects.filter(player=alice, category="login").exists()
    assert PurgeRecord.objects.count() == 1


def test_the_brand_mark_is_written_with_the_record(alice, brand, live):
    login(alice, OLD, live)

    retention_run(now=NOW)

    assert list(RetentionMark.objects.values_list("brand_id", "category", "player_id", "before")) == [
        (brand.pk, "login", None, datetime(2024, 12, 1, tzinfo=UTC))
    ]


# --- game summaries -------------------------------------------------------------------------------


def play_march(alice, bob) -> None:
    """Alice's play in March and April 2026 and a recent round; Bob's one March round."""
    session_opened(alice, 1, datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
    round_closed(alice, 1, datetime(2026, 3, 2, 10, 5, tzinfo=UTC), bet=500, win=0)
    round_closed(alice, 2, datetime(2026, 3, 15, 18, 0, tzinfo=UTC), bet=1_000, win=2_500)
    round_closed(alice, 3, datetime(2026, 3, 31, 23, 30, tzinfo=UTC), bet=200, win=100)
    session_opened(alice, 2, datetime(2026, 4, 1, 9, 0, tzinfo=UTC))
    round_closed(alice, 4, datetime(2026, 4, 1, 9, 5, tzinfo=UTC), bet=300, win=0)
    round_closed(alice, 5, datetime(2026, 11, 20, 20, 0, tzinfo=UTC), bet=100, win=0)
    round_closed(bob, 6, datetime(2026, 3, 20, 12, 0, tzinfo=UTC), bet=700, win=700)


@pytest.fixture
def march_play(alice, register, brand):
    bob = register(brand, username="bob", mobile="+447400654321")
    play_march(alice, bob)
    return alice, bob


def test_old_game_entries_become_one_summary_per_player_and_month_with_exact_totals(march_play, brand):
    alice, bob = march_play
    assert TimelineEntry.objects.filter(category="game").count() == 8

    [record] = retention_run(now=NOW)

    march, april = summary_of(alice, date(2026, 3, 1)), summary_of(alice, date(2026, 4, 1))
    assert (march.sessions, march.rounds, march.bet_total, march.win_total, march.entries) == (
        1,
        3,
        1_700,
        2_600,
        4,
    )
    assert (april.sessions, april.rounds, april.bet_total, april.win_total, april.entries) == (
        1,
        1,
        300,
        0,
        2,
    )
    entry = march.entry
    assert entry.summary == "Game activity March 2026: 3 rounds, 1 session, bet 17.00 GBP, won 26.00"
    assert (entry.amount, entry.currency, entry.occurred_at, entry.event_id, entry.actor) == (
        900,
        "GBP",
        datetime(2026, 3, 1, tzinfo=UTC),
        None,
        "system:retention",
    )
    assert (entry.source_type, entry.source_id, entry.category, entry.brand_id) == (
        "timeline.gamesummary",
        march.pk,
        "game",
        brand.pk,
    )
    assert april.entry.summary == "Game activity April 2026: 1 round, 1 session, bet 3.00 GBP, won 0.00"
    assert game_lines(alice) == [
        "Game activity March 2026: 3 rounds, 1 session, bet 17.00 GBP, won 26.00",
        "Game activity April 2026: 1 round, 1 session, bet 3.00 GBP, won 0.00",
        "Round clt_dragonrising closed: bet 1.00 GBP, won 0.00",
    ]
    bob_march = summary_of(bob, date(2026, 3, 1))
    assert (bob_march.rounds, bob_march.bet_total, bob_march.win_total, bob_march.entry.amount) == (
        1,
        700,
        700,
        0,
    )
    assert record_row(record) == (
        "age",
        brand.pk,
        "GB",
        "game",
        "summarise",
        180,
        datetime(2026, 6, 4, tzinfo=UTC),
        0,
        7,
        3,
        "finished",
        "system:retention",
    )


def test_summarising_twice_never_counts_twice(march_play):
    alice, _ = march_play
    retention_run(now=NOW)
    rows = rows_now()

    assert retention_run(now=NOW) == []
    assert retention_run(now=NOW + timedelta(days=1)) == []

    march = summary_of(alice, date(2026, 3, 1))
    assert (march.rounds, march.bet_total, march.win_total, march.entries) == (3, 1_700, 2_600, 4)
    assert rows_now() == rows


def test_a_later_run_adds_the_rest_of_a_month_to_its_summary(alice):
    for round_id, day, bet in [(1, 3, 100), (2, 10, 200), (3, 20, 400), (4, 28, 800)]:
        round_closed(alice, round_id, datetime(2026, 5, day, 12, 0, tzinfo=UTC), bet=bet, win=bet // 2)

    first = retention_run(now=datetime(2026, 11, 18, 12, 0, tzinfo=UTC))  # cutoff 22 May
    may = summary_of(alice, date(2026, 5, 1))
    entry_id = may.entry_id
    assert (may.rounds, may.bet_total, may.win_total) == (3, 700, 350)
    assert may.entry.summary == "Game activity May 2026: 3 rounds, 0 sessions, bet 7.00 GBP, won 3.50"

    second = retention_run(now=NOW)  # cutoff 4 June

    may = summary_of(alice, date(2026, 5, 1))
    assert (may.rounds, may.bet_total, may.win_total, may.entries, may.entry_id) == (
        4,
        1_500,
        750,
        4,
        entry_id,
    )
    assert may.entry.summary == "Game activity May 2026: 4 rounds, 0 sessions, bet 15.00 GBP, won 7.50"
    assert may.entry.amount == -750
    assert [(r.rows_summarised, r.summaries_written) for r in first + second] == [(3, 1), (1, 1)]
    assert TimelineEntry.objects.filter(player=alice, category="game").count() == 1


def test_a_round_corrected_after_its_summary_adds_only_the_change(alice):
    march_10 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    round_closed(alice, 1, march_10, bet=500, win=0)
    # A round closed and corrected before any summary: summarised together, counted once.
    round_closed(alice, 2, march_10 + timedelta(hours=1), bet=1_000, win=0)
    round_corrected(alice, 2, march_10 + timedelta(hours=2), march_10 + timedelta(hours=1), bet=1_000, win=50)
    retention_run(now=datetime(2026, 9, 20, 12, 0, tzinfo=UTC))  # cutoff 24 March
    march = summary_of(alice, date(2026, 3, 1))
    assert (march.rounds, march.bet_total, march.win_total) == (2, 1_500, 50)

    # Round 1 is corrected (a late win) long after: a live entry, summarised in its turn.
    round_corrected(alice, 1, datetime(2026, 9, 25, tzinfo=UTC), march_10, bet=500, win=300)
    assert game_lines(alice)[-1] == ("Round clt_dragonrising corrected: bet 5.00 GBP, won 3.00")
    retention_run(now=datetime(2027, 3, 31, 12, 0, tzinfo=UTC))

    march = summary_of(alice, date(2026, 3, 1))
    assert (march.rounds, march.bet_total, march.win_total, march.entries) == (2, 1_500, 350, 4)
    assert march.entry.summary == "Game activity March 2026: 2 rounds, 0 sessions, bet 15.00 GBP, won 3.50"
    assert GameSummary.objects.count() == 1


def test_a_purge_policy_on_games_removes_summaries_with_their_totals(march_play, superuser):
    alice, _ = march_play
    retention_run(now=NOW)
    retention_policy_set(actor=superuser, category="game", action="purge", after_days=365, jurisdiction="GB")

    [record] = retention_run(now=datetime(2027, 5, 15, tzinfo=UTC))  # cutoff 15 May 2026

    assert record_row(record)[3:10] == ("game", "purge", 365, datetime(2026, 5, 15, tzinfo=UTC), 3, 0, 0)
    assert game_lines(alice) == ["Round clt_dragonrising closed: bet 1.00 GBP, won 0.00"]
    assert GameSummary.objects.count() == 0


# --- rebuild and late deliveries ----------------------------------------------------------------


def test_rebuild_does_not_resurrect_purged_or_summarised_entries(two_jurisdictions):
    alice, bob = two_jurisdictions
    play_march(alice, bob)
    retention_run(now=NOW)
    after_retention = rows_now()
    summaries = list(GameSummary.objects.order_by("pk").values_list("rounds", "bet_total", "win_total"))

    assert timeline_rebuild() == 0
    assert rows_now() == after_retention

    # Even from nothing: only what retention left comes back, and no round is counted twice.
    TimelineEntry.objects.filter(event__isnull=False).delete()
    timeline_rebuild()
    assert rows_now() == after_retention
    retention_run(now=NOW)
    assert (
        list(GameSummary.objects.order_by("pk").values_list("rounds", "bet_total", "win_total")) == summaries
    )


def test_a_late_delivery_of_a_purged_event_adds_nothing(two_jurisdictions):
    alice, _ = two_jurisdictions
    old_login = (
        Event.objects.filter(type="players.login_succeeded", player_id=alice.pk).order_by("pk").first()
    )
    retention_run(now=NOW)

    timeline_entry_on_event([old_login])

    assert not TimelineEntry.objects.filter(event=old_login).exists()


# --- doors ----------------------------------------------------------------------------------------


def test_the_command_and_the_task_run_retention(two_jurisdictions, brand):
    out = io.StringIO()
    with at(NOW):
        call_command("retention_run", "--brand", str(brand.pk), stdout=out)

    assert out.getvalue() == (
        f"{brand.pk} login age purge: removed 1, summarised 0 into 0 summaries\n"
        "purge records: 1; retained identifiers released: 0; late entries anonymised: 0\n"
    )
    with at(NOW):
        result = retention_run_task()
    [se_record] = PurgeRecord.objects.exclude(brand=brand)
    assert result == {"purge_records": [se_record.pk], "released": 0, "redacted": 0}


# --- concurrency (PostgreSQL, real transactions) ----------------------------------------------------


def run_together(calls) -> list[tuple[str, object]]:
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def work(index, call):
        try:
            barrier.wait(timeout=10)
            outcomes[index] = ("ok", call())
        except Exception as exc:  # noqa: BLE001 - every outcome is kept for the test to judge
            outcomes[index] = ("error", exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck (deadlock?)"
    return outcomes


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_four_workers_summarising_at_once_count_every_round_exactly_once(operator):
    policies_ensure()
    brand = BrandFactory(operator=operator, code="race-gb", jurisdiction="GB", currencies=["GBP"])
    players = [PlayerFactory(brand=brand) for _ in range(3)]
    round_id = 0
    expected = {}
    for player in players:
        for day in range(1, 21):
            round_id += 1
            bet, win = 100 * day, 37 * day
            round_closed(player, round_id, datetime(2026, 3, day, 12, 0, tzinfo=UTC), bet=bet, win=win)
            round_closed(player, round_id + 1000, datetime(2026, 4, day, 12, 0, tzinfo=UTC), bet=bet, win=0)
        expected[player.pk] = {
            date(2026, 3, 1): (20, sum(100 * d for d in range(1, 21)), sum(37 * d for d in range(1, 21))),
            date(2026, 4, 1): (20, sum(100 * d for d in range(1, 21)), 0),
        }

    outcomes = run_together([lambda: retention_run(now=NOW, batch_size=7) for _ in range(4)])

    assert [kind for kind, _ in outcomes] == ["ok"] * 4, outcomes
    got = {
        player.pk: {
            s.month: (s.rounds, s.bet_total, s.win_total) for s in GameSummary.objects.filter(player=player)
        }
        for player in players
    }
    assert got == expected
    assert not TimelineEntry.objects.filter(category="game", event__isnull=False).exists()
    assert TimelineEntry.objects.filter(category="game", event__isnull=True).count() == 6
    records = PurgeRecord.objects.filter(brand=brand, category="game")
    assert sum(r.rows_summarised for r in records) == 120
    assert {r.status for r in records} == {"finished"}


# --- the admin ----------------------------------------------------------------------------------------


def test_the_admin_lists_the_rules_and_superusers_change_platform_rows(client, superuser):
    staff_login(client, superuser)
    login_rule = RetentionPolicy.objects.get(category="login", brand=None, jurisdiction="")

    listing = client.get(reverse("admin:timeline_retentionpolicy_changelist"))
    response = client.post(
        reverse("admin:timeline_retentionpolicy_change", args=[login_rule.pk]),
        {"action": "purge", "after_days": "400", "legal_basis": "shorter"},
    )

    assert listing.status_code == 200
    assert listing.context["cl"].result_count == 10
    assert response.status_code == 302
    login_rule.refresh_from_db()
    assert (login_rule.action, login_rule.after_days, login_rule.legal_basis) == ("purge", 400, "shorter")


def test_a_brand_admin_adds_a_rule_for_their_brand_within_the_law_only(
    client, brand, other_brand, make_staff
):
    admin_here = grant(
        make_staff(brands=[brand]), "view_retentionpolicy", "add_retentionpolicy", "change_retentionpolicy"
    )
    staff_login(client, admin_here)
    add = reverse("admin:timeline_retentionpolicy_add")
    platform_rule = RetentionPolicy.objects.get(category="login", brand=None, jurisdiction="")

    too_short = client.post(
        add, {"category": "payment", "brand": brand.pk, "action": "purge", "after_days": "30"}
    )
    elsewhere = client.post(
        add, {"category": "login", "brand": other_brand.pk, "action": "purge", "after_days": "30"}
    )
    platform = client.post(add, {"category": "bonus", "action": "purge", "after_days": "30"})
    change_platform = client.post(
        reverse("admin:timeline_retentionpolicy_change", args=[platform_rule.pk]),
        {"action": "purge", "after_days": "1"},
    )
    assert [r.status_code for r in (too_short, elsewhere, platform, change_platform)] == [200, 200, 200, 403]
    assert "may not keep less" in str(too_short.context["adminform"].form.errors)
    assert not RetentionPolicy.objects.filter(brand__isnull=False).exists()
    assert RetentionPolicy.objects.get(pk=platform_rule.pk).after_days == 730

    ok = client.post(add, {"category": "login", "brand": brand.pk, "action": "purge", "after_days": "90"})

    assert ok.status_code == 302
    assert rule(policies_effective(brand)["login"])[:2] == ("purge", 90)
