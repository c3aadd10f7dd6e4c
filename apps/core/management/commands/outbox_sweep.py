from django.core.management.base import BaseCommand

from apps.core.actors import audit_as, system_actor
from apps.core.outbox import outbox_sweep


class Command(BaseCommand):
    help = "Deliver domain events left behind (what the Celery beat sweep does, once)."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=500)

    def handle(self, *args, limit, **options):
        with audit_as(system_actor("outbox")):
            tried = outbox_sweep(limit=limit)
        self.stdout.write(f"Tried {tried} event(s).")
