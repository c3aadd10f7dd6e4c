"""manage.py retention_run [--brand ID ...]: apply the timeline's retention policies now."""

from django.core.management.base import BaseCommand

from apps.core.actors import audit_as
from apps.timeline.erasure import erasures_sweep
from apps.timeline.retention import BATCH_SIZE, SYSTEM, retention_run


class Command(BaseCommand):
    help = "Purge and summarise timeline entries as the retention policies say (safe to repeat)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--brand", type=int, action="append", default=None, help="Only this brand (repeatable)."
        )
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)

    def handle(self, *args, brand=None, batch_size=BATCH_SIZE, **options):
        with audit_as(SYSTEM):
            records = retention_run(brand_ids=brand, batch_size=batch_size)
            swept = erasures_sweep(batch_size=batch_size)
        for record in records:
            self.stdout.write(
                f"{record.brand_id} {record.category} {record.kind} {record.action}: "
                f"removed {record.rows_removed}, summarised {record.rows_summarised} "
                f"into {record.summaries_written} summaries"
            )
        self.stdout.write(
            f"purge records: {len(records)}; retained identifiers released: {swept['released']}; "
            f"late entries anonymised: {swept['redacted']}"
        )
