"""Marketing compliance: marketing_allowed removes excluded, timed-out, closed, suspended and
opted-out players and those a register refuses (failing closed when it cannot answer);
marketing_export writes the contactable players and records every removal with its reason."""

import csv
import io
import json

import pytest

from apps.core.models import Event
from apps.exclusions.fakes import FakeGamstop, FakeSpelpaus
from apps.exclusions.interface import marketing_allowed
from apps.exclusions.marketing import marketing_export
from apps.exclusions.models import MarketingExport, MarketingRemoval, RegisterCheck
from apps.players.models import Player
from apps.responsible_gaming.services import timeout_start
from apps.tenants.exceptions import AccessDenied
from tests.exclusions.batch_support import batch_bodies, gamstop_config, players_bulk, spelpaus_config

pytestmark = pytest.mark.django_db

NAMES = [
    "ok",
    "lapsed",
    "opted_out",
    "refused",
    "timed_out",
    "self_excluded",
    "closed",
    "suspended",
    "bad_name",
]
EXPECTED = {
    "ok": None,
    "lapsed": None,
    "opted_out": "opted_out",
    "refused": "register_refused",
    "timed_out": "timed_out",
    "self_excluded": "account_self_excluded",
    "closed": "account_closed",
    "suspended": "account_suspended",
    "bad_name": "register_unavailable",  # cannot be sent to GAMSTOP: not cleared
}
NAMES = list(EXPECTED)


@pytest.fixture(autouse=True)
def _fast_retries(settings):
    settings.EXCLUSIONS_RETRIES = 3
    settings.EXCLUSIONS_BACKOFF_SECONDS = 0.01
    settings.EXCLUSIONS_BREAKER_FAILURES = 50


@pytest.fixture
def gamstop():
    with FakeGamstop() as fake:
        yield fake


@pytest.fixture
def gb_players(brand, gamstop) -> dict[str, Player]:
    """One GB player per case, all opted in unless the case says otherwise."""
    gamstop_config(brand, gamstop)
    players = dict(zip(NAMES, players_bulk(brand, len(NAMES), marketing_opt_in=True), strict=True))
    gamstop.excluded = {players["refused"].email: "Y", players["lapsed"].email: "P"}
    Player.objects.filter(pk=players["opted_out"].pk).update(marketing_opt_in=False)
    for status in ("self_excluded", "closed", "suspended"):
        Player.objects.filter(pk=players[status].pk).update(status=status)
    Player.objects.filter(pk=players["bad_name"].pk).update(first_name="A")
    timed_out = Player.objects.get(pk=players["timed_out"].pk)
    timeout_start(actor=timed_out, player=timed_out, hours=24)
    return {name: Player.objects.get(pk=p.pk) for name, p in players.items()}


def _by_name(players: dict[str, Player], reasons: dict[int, str | None]) -> dict[str, str | None]:
    return {name: reasons[p.pk] for name, p in players.items()}


def test_marketing_allowed_says_who_may_be_contacted_and_why_not(gb_players, gamstop):
    # when
    reasons = marketing_allowed(Player.objects.filter(pk__in=[p.pk for p in gb_players.values()]))

    # then
    assert _by_name(gb_players, reasons) == EXPECTED
    # only the players the cheap checks left were sent to GAMSTOP, in one batch request
    [body] = batch_bodies(gamstop)
    assert sorted(int(p["correlation-id"]) for p in body) == sorted(
        gb_players[n].pk for n in ("ok", "lapsed", "refused")
    )
    # the register's refusal and the unsendable player are stored checks
    checks = RegisterCheck.objects.filter(purpose="marketing")
    assert sorted((c.player_id, c.outcome) for c in checks) == sorted(
        [(gb_players["refused"].pk, "excluded"), (gb_players["bad_name"].pk, "error")]
    )


def test_marketing_allowed_fails_closed_when_gamstop_cannot_answer(gb_players, gamstop):
    # given: GAMSTOP fails every attempt
    gamstop.fail_next(status=503, times=3)

    # when
    reasons = marketing_allowed(list(gb_players.values()))

    # then: nobody the register would have to clear is contactable
    assert _by_name(gb_players, reasons) == EXPECTED | {
        "ok": "register_unavailable",
        "lapsed": "register_unavailable",
        "refused": "register_unavailable",
    }


def test_marketing_allowed_asks_spelpaus_marketing_bulk_for_swedish_players(other_brand):
    with FakeSpelpaus() as spelpaus:
        # given: three Swedish players who opted in; one blocked, one without a personnummer
        spelpaus_config(other_brand, spelpaus)
        allowed, blocked, unknown = players_bulk(other_brand, 3, prefix="se", marketing_opt_in=True)
        Player.objects.filter(pk=allowed.pk).update(national_id="19900517-1237")
        Player.objects.filter(pk=blocked.pk).update(national_id="19811218-9876")
        spelpaus.blocked = {"198112189876"}

        # when
        reasons = marketing_allowed(Player.objects.filter(brand=other_brand))

        # then: one bulk request with the two askable players
        assert reasons == {allowed.pk: None, blocked.pk: "register_refused", unknown.pk: "no_national_id"}
        [(path, headers, body)] = spelpaus.requests
        assert path == f"/marketing/marketing-subjectid/{spelpaus.actor_id}"
        assert headers["authorization"] == spelpaus.api_key
        assert sorted(item["subjectId"] for item in json.loads(body)["items"]) == [
            "198112189876",
            "199005171237",
        ]


def _rows(produced) -> list[dict]:
    text = produced.file.read().decode()
    produced.file.close()
    return list(csv.DictReader(io.StringIO(text)))


def test_marketing_export_writes_the_contactable_players_and_records_every_removal(
    brand, gb_players, gamstop, make_staff, settings
):
    # given: pages of 3 players (the export streams) and a compliance officer of the brand
    settings.EXCLUSIONS_MARKETING_CHUNK_SIZE = 3
    officer = make_staff("Compliance officer", brands=[brand])

    # when
    produced = marketing_export(actor=officer, brand=brand, purpose="Spring campaign")

    # then: the CSV holds exactly the contactable players, with their contact data
    ok, lapsed = gb_players["ok"], gb_players["lapsed"]
    assert _rows(produced) == [
        {"player_id": str(p.pk), "username": p.username, "email": p.email, "first_name": p.first_name}
        for p in (ok, lapsed)
    ]
    # GAMSTOP was asked page by page
    assert all(len(body) <= 3 for body in batch_bodies(gamstop))
    export = MarketingExport.objects.get()
    assert (export.brand_id, export.requested_by_id, export.purpose) == (
        brand.pk,
        officer.pk,
        "Spring campaign",
    )
    assert (export.candidates, export.included, export.removed) == (9, 2, 7)
    removals = {(r.player_id, r.reason) for r in MarketingRemoval.objects.filter(export=export)}
    assert removals == {(gb_players[name].pk, reason) for name, reason in EXPECTED.items() if reason}
    [event] = Event.objects.filter(type="exclusions.marketing_exported")
    assert event.payload["removed_by_reason"] == {
        "account_closed": 1,
        "account_self_excluded": 1,
        "account_suspended": 1,
        "opted_out": 1,
        "register_refused": 1,
        "register_unavailable": 1,
        "timed_out": 1,
    }
    assert (event.payload["included"], event.payload["with_personal_data"], event.actor) == (
        2,
        True,
        f"staff:{officer.pk}",
    )


def test_marketing_export_is_in_the_access_audit_with_the_export(brand, gb_players, make_staff):
    from apps.security.models import AuditRecord

    officer = make_staff("Compliance officer", brands=[brand])

    produced = marketing_export(actor=officer, brand=brand, purpose="Spring campaign", fmt="json")
    produced.file.close()

    [record] = AuditRecord.objects.filter(kind="export")
    assert (record.actor_id, record.brand_id, record.operator_id) == (officer.pk, brand.pk, brand.operator_id)
    assert (record.object_type, record.object_id) == ("exclusions.marketingexport", str(produced.export.pk))
    assert record.detail == {
        "source": "exclusions.marketing_export",
        "rows": 2,
        "fields": ["player_id", "username", "email", "first_name"],
        "personal_data": True,
        "format": "json",
    }


def test_a_refused_marketing_export_leaves_no_audit_record(brand, gb_players, make_staff):
    from apps.security.models import AuditRecord

    agent = make_staff("Support agent", brands=[brand])

    with pytest.raises(AccessDenied):
        marketing_export(actor=agent, brand=brand, purpose="Spring campaign")

    assert not AuditRecord.objects.filter(kind="export").exists()


def test_marketing_export_masks_personal_data_for_staff_who_may_not_see_it(brand, gb_players, make_staff):
    # given: a brand admin may export (an affiliate list) but not see personal data
    brand_admin = make_staff("Brand admin", brands=[brand])

    # when
    produced = marketing_export(actor=brand_admin, brand=brand, purpose="Affiliate list", fmt="json")

    # then
    data = json.loads(produced.file.read())
    assert data["players"] == [
        {"player_id": p.pk, "username": p.username, "email": "•••", "first_name": "•••"}
        for p in (gb_players["ok"], gb_players["lapsed"])
    ]
    assert data["export"]["with_personal_data"] is False
    assert (data["export"]["included"], data["export"]["removed"]) == (2, 7)


@pytest.mark.parametrize("who", ["support agent of the brand", "compliance officer of another brand"])
def test_marketing_export_is_refused_without_the_permission_on_the_brand(
    who, brand, other_brand, gb_players, gamstop, make_staff
):
    if who == "support agent of the brand":
        actor = make_staff("Support agent", brands=[brand])
    else:
        actor = make_staff("Compliance officer", brands=[other_brand])

    with pytest.raises(AccessDenied):
        marketing_export(actor=actor, brand=brand, purpose="Spring campaign")

    assert MarketingExport.objects.count() == 0
    assert MarketingRemoval.objects.count() == 0
    assert gamstop.requests == []


def test_a_purpose_is_required(brand, gb_players, make_staff):
    from apps.exclusions.marketing import MarketingExportRefused

    officer = make_staff("Compliance officer", brands=[brand])
    with pytest.raises(MarketingExportRefused) as refused:
        marketing_export(actor=officer, brand=brand, purpose="  ")
    assert refused.value.code == "purpose_required"
    assert MarketingExport.objects.count() == 0
