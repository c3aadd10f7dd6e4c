"""Text search on a player's timeline (`q`): case-insensitive, literal (% _ \\ and quotes
match themselves, nothing the user types becomes SQL), served by the trigram index on
PostgreSQL; the brand scoping worked out once per request and never kept past it; the
admin's list without a count of the whole table."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from guardian.shortcuts import assign_perm, remove_perm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.core.request_cache import request_cache_close, request_cache_open
from apps.tenants.selectors import brand_ids_visible_to, brands_visible_to
from apps.timeline.admin import CappedCountPaginator
from apps.timeline.models import TimelineEntry
from apps.timeline.selectors import SearchKeysContain, SummaryContains, _has_search_keys, timeline_for
from tests.factories import PlayerFactory
from tests.helpers.staff import staff_login
from tests.timeline.test_api import add_entry, ids, url

pytestmark = pytest.mark.django_db

SUMMARIES = [
    "Deposit completed (card, PIQ-1)",
    "DEPOSIT held for review",
    "Withdrawal requested (bank)",
    "Bonus 50% match",
    "Bonus 500 granted",
    "code a_b used",
    "code axb used",
    "path C:\\temp\\x",
    "path C:Xtemp",
    "O'Brien's note",
    "x'); DROP TABLE timeline_timelineentry; --",
    "Straße umbenannt",
]

INJECTIONS = [
    "' OR '1'='1",
    "') OR 1=1 --",
    "%' OR summary LIKE '%",
    "x'); DROP TABLE players_player; --",
    "\\'; SELECT pg_sleep(5); --",
    "$1",
    "%s",
    "%(text)s",
    "{0}",
    "E'\\x41'",
    "'||(SELECT current_user)||'",
]


@pytest.fixture
def player(brand):
    return PlayerFactory(brand=brand)


@pytest.fixture
def entries(player):
    return {summary: add_entry(player, minutes=i, summary=summary) for i, summary in enumerate(SUMMARIES)}


@pytest.fixture
def agent(make_staff, brand):
    return make_staff("Support agent", brands=[brand])


def found(agent, player, text) -> set[str]:
    return {entry.summary for entry in timeline_for(agent, player, text=text)}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("deposit", {"Deposit completed (card, PIQ-1)", "DEPOSIT held for review"}),
        ("DePoSiT CoMpLeTeD", {"Deposit completed (card, PIQ-1)"}),
        ("piq-1", {"Deposit completed (card, PIQ-1)"}),
        ("50%", {"Bonus 50% match"}),
        ("50", {"Bonus 50% match", "Bonus 500 granted"}),
        ("%", {"Bonus 50% match"}),
        ("a_b", {"code a_b used"}),
        ("_", {"code a_b used", "x'); DROP TABLE timeline_timelineentry; --"}),
        ("C:\\temp", {"path C:\\temp\\x"}),
        ("\\", {"path C:\\temp\\x"}),
        ("o'brien", {"O'Brien's note"}),
        ("'", {"O'Brien's note", "x'); DROP TABLE timeline_timelineentry; --"}),
        ("drop table timeline_timelineentry", {"x'); DROP TABLE timeline_timelineentry; --"}),
        ("x'); DROP", {"x'); DROP TABLE timeline_timelineentry; --"}),
        ("STRASSE", set()),  # PostgreSQL's upper('ß') is 'ß': no match, on any path
        ("straße", {"Straße umbenannt"}),
        ("nothing like it", set()),
    ],
)
def test_text_search_is_case_insensitive_and_literal(agent, player, entries, text, expected):
    assert found(agent, player, text) == expected


@pytest.mark.parametrize("text", INJECTIONS)
def test_injection_attempts_are_searched_for_as_text(agent, player, entries, text):
    before = TimelineEntry.objects.count()

    assert found(agent, player, text) == set()
    # The same text stored in a summary is found: it was compared, never executed.
    planted = add_entry(player, minutes=100, summary=f"note {text} end")
    assert found(agent, player, text) == {planted.summary}
    assert TimelineEntry.objects.count() == before + 1


@pytest.mark.parametrize("text", ["50%", "' OR '1'='1", "x'); DROP TABLE players_player; --", "\\"])
def test_the_api_searches_literally(staff_client, agent, player, entries, text):
    response = staff_client(agent).get(url(player.pk), {"q": text})

    assert response.status_code == 200
    expected = [
        e.pk for e in sorted(entries.values(), key=lambda e: -e.pk) if text.lower() in e.summary.lower()
    ]
    assert ids(response) == expected


def test_the_text_filter_keeps_the_brand_scope(make_staff, other_brand, player, entries):
    outsider = make_staff("Support agent", brands=[other_brand])

    assert found(outsider, player, "deposit") == set()
    assert found(outsider, player, "' OR '1'='1") == set()


# --- the SQL PostgreSQL gets ------------------------------------------------------------------


@pytest.mark.postgres
def test_the_sql_is_the_index_expression_with_constants(agent, player):
    sql = str(timeline_for(agent, player, text="It's 50%_\\").query)

    assert f'"timeline_timelineentry"."player_id" = ({player.pk}::bigint)' in sql
    assert """UPPER("timeline_timelineentry"."summary") LIKE UPPER( E'%It''s 50\\\\%\\\\_\\\\\\\\%')""" in sql
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'timeline_player_summary_trgm_idx'")
        (indexdef,) = cursor.fetchone()
    assert "USING gin (player_id, upper((summary)::text) gin_trgm_ops)" in indexdef


# --- the search keys (migration 0005): rare words on big timelines --------------------------------

# Characters where a search can go wrong: both cases, digits, word breaks and LIKE's own
# characters, letters whose upper and lower case differ in length or kind.
SEARCH_ALPHABET = "aAbBsSdDeEnN019 -_%\\'.:ßÜüİıÅå"


def _keys_sql(player, text) -> str:
    return str(TimelineEntry.objects.filter(SearchKeysContain(player.pk, text)).query)


@pytest.mark.postgres
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    summaries=st.lists(st.text(SEARCH_ALPHABET, min_size=0, max_size=24), min_size=1, max_size=12),
    picks=st.lists(st.tuples(st.integers(0, 11), st.integers(0, 23), st.integers(1, 8)), max_size=4),
    free=st.lists(st.text(SEARCH_ALPHABET, min_size=1, max_size=6), max_size=3),
)
def test_the_search_keys_find_every_entry_the_text_is_in(player, summaries, picks, free):
    # Given a player's entries with these summaries
    TimelineEntry.objects.filter(player=player).delete()
    for i, summary in enumerate(summaries):
        add_entry(player, minutes=i, summary=summary)
    # When searching for pieces of them, and for free text
    texts = [summaries[n % len(summaries)][start : start + size] for n, start, size in picks] + free
    for text in (t for t in texts if t):
        by_keys = set(TimelineEntry.objects.filter(player=player).filter(SearchKeysContain(player.pk, text)))
        by_like = set(TimelineEntry.objects.filter(player=player).filter(SummaryContains(text)))
        # Then the keys find exactly what the LIKE finds
        assert by_keys == by_like, text


@pytest.mark.postgres
def test_a_rare_word_on_a_big_timeline_reads_the_search_keys_and_a_common_one_does_not(
    agent, player, brand, make_staff, other_brand
):
    """20,000 entries of one player, 20 of them "suspended", every one a "Round": the newest
    entries show "suspended" rare, so the page reads the (bucket, trigram) keys; "round" is
    in every entry, found newest first, and an absent word reads the keys too. (A table
    this small is cheaper to read whole, so sequential scans are off; the GIN index's
    pending list is merged, as autovacuum does on a live table.)"""
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO timeline_timelineentry (player_id, brand_id, occurred_at, category, summary,
                   amount, currency, source_type, actor, created_at)
               SELECT %s, %s, now() - g * interval '1 minute', 'game',
                   CASE WHEN g %% 1000 = 0 THEN 'Round voided, player suspended: fraud check'
                        ELSE 'Round prg_sweetbonanza closed: bet ' || g || '.00 GBP' END,
                   NULL, '', '', 'system:test', now()
               FROM generate_series(1, 20000) AS g""",
            [player.pk, brand.pk],
        )
        cursor.execute("SELECT gin_clean_pending_list('timeline_search_keys_idx'::regclass)")
        cursor.execute("ANALYZE timeline_timelineentry")
        cursor.execute("SET LOCAL enable_seqscan = off")

    rare = timeline_for(agent, player, text="Suspended")[:51]
    absent = timeline_for(agent, player, text="PIQ-999999999")[:51]
    common = timeline_for(agent, player, text="round")[:51]

    for page in (rare, absent):
        plan = page.explain()
        # the keys alone: neither the player's postings nor the trigram index ANDed in
        assert "timeline_search_keys_idx" in plan, plan
        assert "timeline_player_summary_trgm_idx" not in plan, plan
        assert "timeline_player_idx" not in plan, plan
    assert len(list(rare)) == 20
    assert list(absent) == []
    # And the keys keep the brand scope: another brand's agent finds nothing
    outsider = make_staff("Support agent", brands=[other_brand])
    assert list(timeline_for(outsider, player, text="Suspended")) == []
    assert "timeline_search_keys" not in str(common.query)
    assert len(list(common)) == 51


@pytest.mark.postgres
def test_small_timelines_and_texts_without_keys_are_searched_without_them(agent, player, entries):
    # A player with fewer entries than the probe reads: their own entries, newest first
    assert "timeline_search_keys" not in str(timeline_for(agent, player, text="held").query)
    # A text without three ASCII letters or digits in a row gives no key to look up
    assert not _has_search_keys("50%") and not _has_search_keys("ßüå") and not _has_search_keys("a b")
    assert _has_search_keys("PIQ-1") and _has_search_keys("über")


@pytest.mark.postgres
def test_the_search_keys_index_is_the_expression_the_search_writes(player):
    sql = _keys_sql(player, "It's 50%")
    row = '"timeline_timelineentry"."player_id", "timeline_timelineentry"."summary"'
    assert f"timeline_search_keys({row})" in sql
    assert f"timeline_search_query_keys({player.pk}::bigint, 'It''s 50%')" in sql
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'timeline_search_keys_idx'")
        (indexdef,) = cursor.fetchone()
        cursor.execute("SELECT timeline_search_query_keys(%s, 'Über-Straße: PIQ-12 a_b 50%%')", [1025])
        (keys,) = cursor.fetchone()
    assert "USING gin (timeline_search_keys(player_id, (summary)::text))" in indexdef
    # Inner trigrams of ASCII letters and digits only, keyed by the player's bucket (1025 % 128)
    assert sorted(keys) == ["1:ber", "1:piq", "1:str", "1:tra"]


# --- the brand scoping: once per request, never kept past it ----------------------------------


def guardian_queries(captured) -> int:
    return sum("guardian_userobjectpermission" in q["sql"] for q in captured.captured_queries)


def test_one_api_request_works_out_the_brands_once(staff_client, agent, player, entries):
    client = staff_client(agent)
    client.get(url(player.pk))

    with CaptureQueriesContext(connection) as captured:
        response = client.get(url(player.pk), {"q": "deposit"})

    assert response.status_code == 200
    assert len(ids(response)) == 2
    assert guardian_queries(captured) == 1


def test_one_admin_page_works_out_the_brands_once(client, agent, player, entries):
    staff_login(client, agent)
    client.get(f"/admin/timeline/timelineentry/?player={player.pk}")

    with CaptureQueriesContext(connection) as captured:
        response = client.get(f"/admin/timeline/timelineentry/?player={player.pk}")

    assert response.status_code == 200
    assert guardian_queries(captured) == 1


def test_the_brands_are_worked_out_again_in_the_next_request(staff_client, agent, other_brand):
    # One signed-in client for both requests: a memo kept for the user across requests
    # would still answer 404 after the grant.
    theirs = PlayerFactory(brand=other_brand)
    add_entry(theirs, minutes=1, summary="Deposit completed")
    client = staff_client(agent)
    assert client.get(url(theirs.pk)).status_code == 404

    assign_perm("tenants.access_brand", agent, other_brand)
    granted = client.get(url(theirs.pk), {"q": "deposit"})
    remove_perm("tenants.access_brand", agent, other_brand)
    revoked = client.get(url(theirs.pk))

    assert granted.status_code == 200
    assert len(ids(granted)) == 1
    assert revoked.status_code == 404


def test_a_grant_within_the_request_drops_the_memo(agent, brand, other_brand):
    token = request_cache_open()
    try:
        assert brand_ids_visible_to(agent) == [brand.pk]
        with CaptureQueriesContext(connection) as captured:
            assert brand_ids_visible_to(agent) == [brand.pk]
        assert len(captured.captured_queries) == 0

        assign_perm("tenants.access_brand", agent, other_brand)
        assert brand_ids_visible_to(agent) == sorted([brand.pk, other_brand.pk])
        remove_perm("tenants.access_brand", agent, other_brand)
        assert brand_ids_visible_to(agent) == [brand.pk]
        agent.groups.clear()
        assert set(brands_visible_to(agent)) == {brand}
    finally:
        request_cache_close(token)


def test_outside_a_request_nothing_is_memoised(agent, brand, other_brand):
    assert list(brands_visible_to(agent)) == [brand]
    assign_perm("tenants.access_brand", agent, other_brand)
    assert set(brands_visible_to(agent)) == {brand, other_brand}
    assert brand_ids_visible_to(agent) == sorted([brand.pk, other_brand.pk])


def test_a_user_without_brands_sees_nothing_in_a_request(staff_client, make_staff, player, entries):
    nobody = make_staff("Support agent")

    response = staff_client(nobody).get(url(player.pk), {"q": "deposit"})

    assert response.status_code == 404


# --- the admin's list: no count of the whole table --------------------------------------------


def counts(captured) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if "COUNT(" in q["sql"].upper()]


@pytest.mark.parametrize("query", ["", "?player={player}", "?q=deposit", "?player={player}&category=payment"])
def test_the_admin_list_never_counts_past_the_cap(client, agent, player, entries, query):
    staff_login(client, agent)

    with CaptureQueriesContext(connection) as captured:
        response = client.get("/admin/timeline/timelineentry/" + query.format(player=player.pk))

    assert response.status_code == 200
    assert counts(captured), "the list's (capped) count"
    for sql in counts(captured):
        assert f"LIMIT {CappedCountPaginator.COUNT_CAP + 1}" in sql, sql
        assert "ORDER BY" not in sql, sql


def test_the_admin_list_says_more_than_past_the_cap(client, agent, player, entries, monkeypatch):
    monkeypatch.setattr(CappedCountPaginator, "COUNT_CAP", 5)
    staff_login(client, agent)

    capped = client.get(f"/admin/timeline/timelineentry/?player={player.pk}")
    exact = client.get(f"/admin/timeline/timelineentry/?player={player.pk}&q=deposit")

    assert capped.context["cl"].result_count == 5
    assert "more than 5 timeline entries" in capped.content.decode()
    assert "pages stop there: filter by player, category or brand" in capped.content.decode()
    assert exact.context["cl"].result_count == 2
    assert "2 timeline entries" in exact.content.decode()
    assert "more than" not in exact.content.decode()


def test_the_admin_search_is_literal_and_scoped(client, agent, other_brand, player, entries):
    theirs = PlayerFactory(brand=other_brand)
    add_entry(theirs, minutes=1, summary="Bonus 50% match")
    staff_login(client, agent)

    response = client.get("/admin/timeline/timelineentry/", {"q": "50%"})
    injected = client.get("/admin/timeline/timelineentry/", {"q": "' OR '1'='1"})

    assert response.status_code == injected.status_code == 200
    assert list(response.context["cl"].result_list) == [entries["Bonus 50% match"]]
    assert list(injected.context["cl"].result_list) == []


def test_the_admin_list_sorts_only_what_an_index_serves(client, agent, player, entries):
    staff_login(client, agent)

    def page_sql(path):
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path)
        assert response.status_code == 200
        (sql,) = [
            q["sql"]
            for q in captured.captured_queries
            if q["sql"].startswith('SELECT "timeline_timelineentry"."id"')
        ]
        return response, sql

    everyone, everyone_sql = page_sql("/admin/timeline/timelineentry/")
    _, by_hand_sql = page_sql("/admin/timeline/timelineentry/?o=1")  # by occurred_at, typed in
    one, one_sql = page_sql(f"/admin/timeline/timelineentry/?player={player.pk}")

    assert everyone_sql.split("ORDER BY")[1].strip().startswith('"timeline_timelineentry"."id" DESC')
    assert "occurred_at" not in everyone_sql.split("ORDER BY")[1]
    assert by_hand_sql.split("ORDER BY")[1] == everyone_sql.split("ORDER BY")[1]
    assert (
        'ORDER BY "timeline_timelineentry"."occurred_at" DESC, "timeline_timelineentry"."id" DESC' in one_sql
    )
    assert list(one.context["cl"].result_list) == sorted(
        entries.values(), key=lambda e: e.occurred_at, reverse=True
    )
    assert set(everyone.context["cl"].result_list) == set(entries.values())


def test_a_nul_character_in_the_search_is_a_clear_refusal_or_no_match_never_a_500(
    client, staff_client, agent, player, entries
):
    api = staff_client(agent).get(url(player.pk), {"q": "dep\x00osit"})
    staff_login(client, agent)
    admin_page = client.get("/admin/timeline/timelineentry/", {"q": "dep\x00osit"})

    assert api.status_code in (200, 400)
    assert api.status_code == 400 or ids(api) == []
    # Django's admin drops a search term its search form refuses (a NUL): the list unfiltered.
    assert admin_page.status_code == 200
    assert len(admin_page.context["cl"].result_list) == len(entries)


@pytest.mark.parametrize("value", ["²", "x", "-1"])
def test_the_admin_player_filter_refuses_what_is_not_a_player_id(client, agent, player, entries, value):
    staff_login(client, agent)

    response = client.get("/admin/timeline/timelineentry/", {"player": value})

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []
