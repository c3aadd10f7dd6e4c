"""Fill an empty database with demo data; running it again changes nothing.

Each app may have a `demo.py` with `seed(context: dict) -> None`; they run in
INSTALLED_APPS order and share `context` (the tenants' demo puts its operators, brands
and staff there for the apps after it).
"""

from importlib import import_module
from importlib.util import find_spec

from django.apps import apps
from django.core.management.base import BaseCommand

from apps.core.actors import audit_as, system_actor


class Command(BaseCommand):
    help = "Create demo operators, brands, staff (one per role) and players. Idempotent."

    def handle(self, *args, **options):
        context: dict = {"stdout": self.stdout}
        with audit_as(system_actor("seed_demo")):
            for config in apps.get_app_configs():
                if not config.name.startswith("apps.") or find_spec(f"{config.name}.demo") is None:
                    continue
                import_module(f"{config.name}.demo").seed(context)
        for line in context.get("logins", []):
            self.stdout.write(line)
