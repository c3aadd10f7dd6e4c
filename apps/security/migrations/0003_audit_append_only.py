"""The audit logs are append-only in the database, not only in code (PostgreSQL).

Row-level UPDATE and DELETE on the access audit (security_auditrecord) and on
django-auditlog's model changes (auditlog_logentry) raise, except a DELETE in a transaction
that set the `pam.audit_purge` flag (set_config('pam.audit_purge', 'on', true): local to
that transaction), which only the retention purge does (apps/security/audit.py). An UPDATE
is refused even then. TRUNCATE (test suites resetting a database) is statement-level and
not affected. On SQLite (the embedded demo) AuditRecord's model and queryset refuse; a
LogEntry is then protected by nothing but the code never changing one.

Nothing in the project updates or deletes LogEntry rows (GDPR erasure rewrites the player
and the timeline; its LogEntry rows already hold the personal values masked). Deleting a
staff user would (LogEntry.actor is SET NULL): staff are deactivated, never deleted.
"""

from django.db import migrations

TABLES = ["security_auditrecord", "auditlog_logentry"]

# %% is a literal % once Django has passed the SQL through its parameter formatting.
FUNCTION = """
CREATE OR REPLACE FUNCTION pam_audit_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('pam.audit_purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'the audit log is append-only: %% on %% refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION)
    for table in TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION pam_audit_append_only()"
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS pam_audit_append_only()")


class Migration(migrations.Migration):
    dependencies = [
        ("security", "0002_audit_record"),
        # The last of auditlog 3.4.1, so its table is complete. (Its migrations only change
        # the schema; a later one that rewrote rows would have to run with the trigger dropped.)
        ("auditlog", "0017_add_actor_email"),
    ]
    operations = [migrations.RunPython(forwards, backwards)]
