"""Set a brand's Hub88 keys; print the operator's public key to give to Hub88.

    manage.py hub88_keys --brand northstar-uk --hub88-public-key hub88.pub --generate-operator-key --activate

The operator's private key is generated here and stored; it is never printed.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.core.actors import system_actor
from apps.games.exceptions import IntegrationRefused
from apps.games.providers.hub88 import signing
from apps.games.providers.hub88.services import hub88_integration_configure, hub88_operator_public_key
from apps.tenants.selectors import brand_get_by_code


class Command(BaseCommand):
    help = "Set a brand's Hub88 keys and print the operator public key (never the private key)."

    def add_arguments(self, parser):
        parser.add_argument("--brand", required=True, help="The brand's code.")
        parser.add_argument("--hub88-public-key", metavar="FILE", help="PEM file with Hub88's public key.")
        parser.add_argument(
            "--generate-operator-key", action="store_true", help="Make a new operator key pair."
        )
        state = parser.add_mutually_exclusive_group()
        state.add_argument("--activate", action="store_true", help="Switch the integration on.")
        state.add_argument("--deactivate", action="store_true", help="Switch the integration off.")

    def handle(self, *args, **options):
        brand = brand_get_by_code(options["brand"])
        if brand is None:
            raise CommandError(f"No brand with code {options['brand']!r}.")
        public_pem = None
        if options["hub88_public_key"]:
            try:
                public_pem = Path(options["hub88_public_key"]).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise CommandError(f"Cannot read {options['hub88_public_key']}: {exc}") from exc
        active = True if options["activate"] else False if options["deactivate"] else None
        try:
            integration = hub88_integration_configure(
                brand=brand,
                actor=system_actor("hub88_keys"),
                hub88_public_key=public_pem,
                generate_operator_key=options["generate_operator_key"],
                active=active,
            )
        except IntegrationRefused as exc:
            raise CommandError(exc.message) from exc
        hub88_key = integration.hub88_public_key
        fingerprint = f"SHA-256 {signing.public_key_fingerprint(hub88_key)}" if hub88_key else "not set"
        state = "active" if integration.active else "inactive"
        self.stdout.write(f"Hub88 integration of {brand.code}: {state}")
        self.stdout.write(f"Hub88 public key: {fingerprint}")
        operator_public = hub88_operator_public_key(integration)
        if not operator_public:
            self.stdout.write("Operator key: not set (use --generate-operator-key)")
            return
        operator_fingerprint = signing.public_key_fingerprint(operator_public)
        self.stdout.write(f"Operator public key (give this to Hub88), SHA-256 {operator_fingerprint}:")
        self.stdout.write(operator_public.rstrip("\n"))
