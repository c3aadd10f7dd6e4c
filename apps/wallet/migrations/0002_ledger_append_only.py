"""The ledger is append-only in the database, not only in code (PostgreSQL).

Row-level UPDATE and DELETE on ledger transactions and entries raise. TRUNCATE (used by
test suites to reset a database) is a statement-level operation and is not affected.
On SQLite (the embedded demo) the guarantee is the code's alone.
"""

from django.db import migrations

TABLES = ["wallet_ledgertransaction", "wallet_ledgerentry"]

# %% is a literal % once Django has passed the SQL through its parameter formatting.
FUNCTION = """
CREATE OR REPLACE FUNCTION wallet_ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: %% on %% refused', TG_OP, TG_TABLE_NAME
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
            "FOR EACH ROW EXECUTE FUNCTION wallet_ledger_append_only()"
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS wallet_ledger_append_only()")


class Migration(migrations.Migration):
    dependencies = [("wallet", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
