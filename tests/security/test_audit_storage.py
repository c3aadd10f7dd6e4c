"""The access audit is append-only (the database refuses UPDATE and DELETE; so does the ORM),
kept for AUDIT_RETENTION_DAYS and purged in batches through the one sanctioned path, and
read in a read-only admin that auditors search without counting the whole table."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.security.audit import audit_records_purge
from apps.security.models import AuditAppendOnly, AuditRecord
from apps.security.tasks import audit_records_purge_task
from tests.helpers.staff import staff_login

# The ORM's refusals, the purge and the admin hold on SQLite too (the embedded default);
# what the database itself refuses is PostgreSQL's trigger (marked `postgres`).
pytestmark = pytest.mark.django_db

URL = "/admin/security/auditrecord/"


def signed_in(user) -> Client:
    """A client with a staff session whose second factor is verified."""
    client = Client()
    staff_login(client, user)
    return client


def sql(statement: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def refused(action, error=IntegrityError):
    with pytest.raises(error) as raised, transaction.atomic():
        action()
    return raised.value


def record(**fields) -> AuditRecord:
    values = {"kind": AuditRecord.Kind.LOGIN_SUCCEEDED, "actor_type": "staff", "actor_label": "someone"}
    return AuditRecord.objects.create(**(values | fields))


def rows() -> list:
    return list(AuditRecord.objects.order_by("pk").values())


# --- append-only ----------------------------------------------------------------------------


@pytest.mark.postgres
def test_the_append_only_triggers_are_installed():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgrelid::regclass::text, tgname FROM pg_trigger WHERE NOT tgisinternal"
            " AND tgname LIKE '%%append_only' AND tgrelid::regclass::text IN"
            " ('security_auditrecord', 'auditlog_logentry') ORDER BY 1"
        )
        assert cursor.fetchall() == [
            ("auditlog_logentry", "auditlog_logentry_append_only"),
            ("security_auditrecord", "security_auditrecord_append_only"),
        ]


@pytest.mark.postgres
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE security_auditrecord SET actor_label = 'forged' WHERE id = %(id)s",
        "UPDATE security_auditrecord SET occurred_at = now() - interval '10 years'",
        "DELETE FROM security_auditrecord WHERE id = %(id)s",
    ],
    ids=["update-actor", "update-date", "delete"],
)
def test_raw_sql_cannot_change_or_delete_audit_records(statement):
    target = record()
    before = rows()

    error = refused(lambda: sql(statement, {"id": target.pk}))

    assert "the audit log is append-only" in str(error)
    assert rows() == before


def test_the_orm_cannot_change_or_delete_audit_records():
    target = record()
    before = rows()
    target.actor_label = "forged"

    refused(lambda: target.save(), AuditAppendOnly)
    refused(lambda: AuditRecord.objects.filter(pk=target.pk).update(actor_label="forged"), AuditAppendOnly)
    refused(lambda: AuditRecord.objects.filter(pk=target.pk).delete(), AuditAppendOnly)
    refused(lambda: AuditRecord.objects.get(pk=target.pk).delete(), AuditAppendOnly)

    assert rows() == before


@pytest.mark.postgres
def test_auditlog_entries_cannot_be_changed_or_deleted(make_staff, brand):
    from auditlog.models import LogEntry

    make_staff("Support agent", brands=[brand])  # writes LogEntry rows (the new staff user)
    entry = LogEntry.objects.order_by("pk").last()

    for statement in (
        "UPDATE auditlog_logentry SET cid = 'forged' WHERE id = %s",
        "DELETE FROM auditlog_logentry WHERE id = %s",
    ):
        assert "the audit log is append-only" in str(refused(lambda s=statement: sql(s, [entry.pk])))
    assert LogEntry.objects.get(pk=entry.pk).cid == entry.cid


@pytest.mark.postgres
def test_the_purge_flag_never_allows_an_update():
    target = record()

    def flagged_update():
        sql("SELECT set_config('pam.audit_purge', 'on', true)")
        sql("UPDATE security_auditrecord SET actor_label = 'forged' WHERE id = %s", [target.pk])

    assert "append-only: UPDATE" in str(refused(flagged_update))
    assert AuditRecord.objects.get(pk=target.pk).actor_label == "someone"


# --- retention ------------------------------------------------------------------------------


def test_the_purge_deletes_only_records_past_retention_in_batches_and_records_itself(settings):
    settings.AUDIT_RETENTION_DAYS = 30
    now = timezone.now()
    old = [record(occurred_at=now - timedelta(days=31 + i)) for i in range(5)]
    kept = [record(occurred_at=now - timedelta(days=29)), record(occurred_at=now)]

    purge = audit_records_purge(now=now, batch_size=2)

    assert sorted(AuditRecord.objects.exclude(pk=purge.pk).values_list("pk", flat=True)) == [
        r.pk for r in kept
    ]
    assert not AuditRecord.objects.filter(pk__in=[r.pk for r in old]).exists()
    assert (purge.kind, purge.actor_type, purge.actor_label) == (
        "audit_purged",
        "system",
        "system:audit-retention",
    )
    assert purge.detail == {
        "deleted": 5,
        "batches": 3,
        "cutoff": (now - timedelta(days=30)).isoformat(),
        "retention_days": 30,
    }


@pytest.mark.postgres
def test_the_purge_leaves_the_records_it_keeps_protected(settings):
    settings.AUDIT_RETENTION_DAYS = 30
    record(occurred_at=timezone.now() - timedelta(days=31))
    kept = record()

    audit_records_purge(batch_size=1)

    # The flag went with the purge's batches (even inside this test's transaction).
    assert "append-only" in str(refused(lambda: sql("DELETE FROM security_auditrecord")))
    assert AuditRecord.objects.filter(pk=kept.pk).exists()


def test_the_beat_task_purges_with_the_configured_retention(settings):
    settings.AUDIT_RETENTION_DAYS = 2190
    ancient = record(occurred_at=timezone.now() - timedelta(days=2191))
    recent = record(occurred_at=timezone.now() - timedelta(days=2189))

    result = audit_records_purge_task.delay().get()

    assert result["deleted"] == 1
    assert not AuditRecord.objects.filter(pk=ancient.pk).exists()
    assert AuditRecord.objects.filter(pk=recent.pk).exists()
    assert AuditRecord.objects.get(pk=result["audit_record"]).kind == "audit_purged"


def test_the_default_retention_is_six_years():
    from django.conf import settings

    assert settings.AUDIT_RETENTION_DAYS == 2190
    assert (
        settings.CELERY_BEAT_SCHEDULE["audit-retention"]["task"]
        == "apps.security.tasks.audit_records_purge_task"
    )


# --- the admin ------------------------------------------------------------------------------


def test_the_admin_is_read_only_even_for_a_superuser(superuser):
    target = record()
    before = AuditRecord.objects.filter(pk=target.pk).values().get()
    client = signed_in(superuser)

    listing = client.get(URL)
    page = client.get(f"{URL}{target.pk}/change/")

    assert (listing.status_code, page.status_code) == (200, 200)
    assert 'name="_save"' not in page.content.decode()
    assert client.get(f"{URL}add/").status_code == 403
    assert client.post(f"{URL}{target.pk}/change/", {"actor_label": "forged"}).status_code == 403
    assert client.post(f"{URL}{target.pk}/delete/", {"post": "yes"}).status_code == 403
    assert listing.context["cl"].model_admin.get_actions(listing.wsgi_request) == {}
    assert AuditRecord.objects.filter(pk=target.pk).values().get() == before


def test_an_auditor_searches_by_correlation_id_address_player_and_actor(
    make_staff, operator, brand, other_brand
):
    auditor = make_staff("Auditor", operator=operator)
    mine = record(
        kind="personal_data_read",
        brand_id=brand.pk,
        player_id=4242,
        ip="198.51.100.1",
        correlation_id="abc-123",
    )
    other = record(kind="login_succeeded", actor_label="officer", brand_id=brand.pk, ip="198.51.100.2")
    foreign = record(brand_id=other_brand.pk, correlation_id="abc-123", player_id=4242)
    client = signed_in(auditor)

    def found(**params) -> list[int]:
        response = client.get(URL, params)
        assert response.status_code == 200
        return [r.pk for r in response.context["cl"].result_list]

    assert found(q="abc-123") == [mine.pk]  # another brand's record stays out of sight
    assert found(q="198.51.100.2") == [other.pk]
    assert found(q="4242") == [mine.pk]
    assert found(q="officer") == [other.pk]
    assert found(q="abc-123", kind__exact="login_succeeded") == []
    assert mine.pk in found(kind__exact="personal_data_read")
    assert foreign.pk not in found()


def test_a_staff_member_without_the_view_permission_is_refused(make_staff, brand):
    agent = make_staff("Support agent", brands=[brand])

    assert signed_in(agent).get(URL).status_code == 403


def test_the_list_never_counts_the_whole_table(superuser):
    for _ in range(3):
        record()
    client = signed_in(superuser)

    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL)

    assert response.status_code == 200
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert counts  # the capped count ran
    assert all("LIMIT" in q.upper() for q in counts), counts
