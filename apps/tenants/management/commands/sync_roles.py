from django.core.management.base import BaseCommand

from apps.tenants.services import roles_sync


class Command(BaseCommand):
    help = "Create or update the staff role groups so they hold exactly the permissions in roles.py."

    def handle(self, *args, **options):
        for role, count in roles_sync().items():
            self.stdout.write(f"{role}: {count} permissions")
