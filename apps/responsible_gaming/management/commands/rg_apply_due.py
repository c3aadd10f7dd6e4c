"""Apply the limit increases whose cooling-off is over (what limits_apply_due_task does)."""

from django.core.management.base import BaseCommand

from apps.responsible_gaming.services import limits_apply_due


class Command(BaseCommand):
    help = "Apply pending limit increases that are due."

    def handle(self, *args, **options):
        self.stdout.write(f"{limits_apply_due()} limit change(s) applied")
