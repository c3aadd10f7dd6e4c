"""The doors of marketing exports: the staff API (CSV or JSON) and the admin's "Add", both
through exclusions.marketing_export; and the admin's batch-run pages, scoped to the brand."""

import csv
import io
import json

import pytest
from django.urls import reverse

from apps.exclusions.batch import batch_tick
from apps.exclusions.fakes import FakeGamstop
from apps.exclusions.models import BatchRun, MarketingExport, MarketingRemoval
from apps.players.models import Player
from tests.exclusions.batch_support import gamstop_config, players_bulk
from tests.helpers.staff import staff_login

pytestmark = pytest.mark.django_db
URL = "/api/v1/staff/exclusions/marketing-exports/"


@pytest.fixture(autouse=True)
def _fast_retries(settings):
    settings.EXCLUSIONS_BACKOFF_SECONDS = 0.01
    settings.EXCLUSIONS_BREAKER_FAILURES = 50


@pytest.fixture
def admin_client_of(client):
    """admin_client_of(user): a browser client signed in to the admin as this user, who
    re-authenticated recently (exports of personal data need it)."""

    def sign_in(user):
        staff_login(client, user, reauthenticated=True)
        return client

    return sign_in


@pytest.fixture
def staff_client(api_client):
    """staff_client(user): an API client signed in as this user, re-authenticated (an export
    of personal data needs it: tests/security/test_staff_sessions.py)."""

    def sign_in(user):
        staff_login(api_client, user, reauthenticated=True)
        return api_client

    return sign_in


@pytest.fixture
def gamstop():
    with FakeGamstop() as fake:
        yield fake


@pytest.fixture
def three(brand, gamstop) -> list[Player]:
    """Three opted-in GB players: the second excluded on GAMSTOP, the third opted out."""
    gamstop_config(brand, gamstop)
    players = players_bulk(brand, 3, marketing_opt_in=True)
    gamstop.excluded = {players[1].email: "Y"}
    Player.objects.filter(pk=players[2].pk).update(marketing_opt_in=False)
    return players


def _csv(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_api_answers_the_csv_of_contactable_players(brand, three, make_staff, staff_client):
    officer = make_staff("Compliance officer", brands=[brand])

    response = staff_client(officer).post(URL, {"brand": brand.pk, "purpose": "CRM May"}, format="json")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    assert _csv(response) == [
        {"player_id": str(three[0].pk), "username": "p0", "email": "p0@example.com", "first_name": "Alex"}
    ]
    export = MarketingExport.objects.get()
    assert response["X-Marketing-Export-Id"] == str(export.pk)
    assert sorted(MarketingRemoval.objects.values_list("player_id", "reason")) == [
        (three[1].pk, "register_refused"),
        (three[2].pk, "opted_out"),
    ]


def test_the_api_answers_json_when_asked(brand, three, make_staff, staff_client):
    officer = make_staff("Compliance officer", brands=[brand])

    response = staff_client(officer).post(
        URL, {"brand": brand.pk, "purpose": "CRM May", "format": "json"}, format="json"
    )

    assert response.status_code == 200
    data = json.loads(b"".join(response.streaming_content))
    assert [p["player_id"] for p in data["players"]] == [three[0].pk]
    assert data["export"]["removed_by_reason"] == {"opted_out": 1, "register_refused": 1}


def test_another_brands_id_is_an_unknown_brand_and_changes_nothing(
    brand, other_brand, three, gamstop, make_staff, staff_client
):
    officer = make_staff("Compliance officer", brands=[other_brand])

    response = staff_client(officer).post(URL, {"brand": brand.pk, "purpose": "CRM May"}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"brand": ["Unknown brand."]}
    assert MarketingExport.objects.count() == 0
    assert gamstop.requests == []


@pytest.mark.parametrize(
    "body",
    [{}, {"brand": "x", "purpose": "p"}, {"brand": 1, "purpose": ""}, {"brand": 10**30, "purpose": "p"}],
)
def test_bad_input_is_a_400(body, brand, three, make_staff, staff_client):
    officer = make_staff("Compliance officer", brands=[brand])

    response = staff_client(officer).post(URL, body, format="json")

    assert response.status_code == 400
    assert MarketingExport.objects.count() == 0


def test_staff_without_the_export_permission_are_refused(brand, three, make_staff, staff_client):
    agent = make_staff("Support agent", brands=[brand])

    response = staff_client(agent).post(URL, {"brand": brand.pk, "purpose": "CRM May"}, format="json")

    assert response.status_code == 403
    assert MarketingExport.objects.count() == 0


def test_the_list_shows_only_the_staff_members_brands(brand, other_brand, three, make_staff, staff_client):
    from apps.exclusions.marketing import marketing_export

    officer = make_staff("Compliance officer", brands=[brand])
    marketing_export(actor=officer, brand=brand, purpose="CRM May").file.close()
    stranger = make_staff("Compliance officer", brands=[other_brand])

    mine = staff_client(officer).get(URL).json()
    theirs = staff_client(stranger).get(URL).json()

    assert [(e["brand"], e["purpose"], e["included"], e["removed"]) for e in mine["results"]] == [
        ("brand-a", "CRM May", 1, 2)
    ]
    assert theirs["results"] == []


def test_the_admin_add_page_downloads_the_export(brand, three, make_staff, admin_client_of):
    officer = make_staff("Compliance officer", brands=[brand])
    client = admin_client_of(officer)
    add = reverse("admin:exclusions_marketingexport_add")

    assert client.get(add).status_code == 200
    response = client.post(add, {"brand": brand.pk, "purpose": "Newsletter", "fmt": "csv"})

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="marketing-brand-a-')
    assert [row["player_id"] for row in _csv(response)] == [str(three[0].pk)]
    assert MarketingExport.objects.get().purpose == "Newsletter"


def test_the_admin_add_page_is_closed_without_the_export_permission(
    brand, three, make_staff, admin_client_of
):
    agent = make_staff("Support agent", brands=[brand])

    response = admin_client_of(agent).post(
        reverse("admin:exclusions_marketingexport_add"),
        {"brand": brand.pk, "purpose": "Newsletter", "fmt": "csv"},
    )

    assert response.status_code == 403
    assert MarketingExport.objects.count() == 0


def test_batch_runs_in_the_admin_show_progress_and_are_scoped_to_the_brand(
    brand, other_brand, gamstop, make_staff, admin_client_of
):
    # given: a finished run of brand A
    gamstop_config(brand, gamstop)
    players_bulk(brand, 3)
    [run] = batch_tick()
    officer = make_staff("Compliance officer", brands=[brand])
    stranger = make_staff("Compliance officer", brands=[other_brand])

    # when / then: the officer of the brand sees it, its progress and its chunk
    client = admin_client_of(officer)
    listing = client.get(reverse("admin:exclusions_batchrun_changelist"))
    assert listing.status_code == 200
    assert listing.context["cl"].result_count == 1
    assert "1 / 1" in listing.content.decode()
    detail = client.get(reverse("admin:exclusions_batchrun_change", args=[run.pk]))
    assert detail.status_code == 200
    assert detail.context["inline_admin_formsets"][0].formset.queryset.count() == 1
    # nobody may add, change or delete a run
    assert client.get(reverse("admin:exclusions_batchrun_add")).status_code == 403

    # and someone of another brand cannot see it
    other = admin_client_of(stranger)
    assert other.get(reverse("admin:exclusions_batchrun_changelist")).context["cl"].result_count == 0
    assert other.get(reverse("admin:exclusions_batchrun_change", args=[run.pk])).status_code == 302
    assert BatchRun.objects.count() == 1
