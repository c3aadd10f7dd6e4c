"""Set a brand's PaymentIQ credentials and IP allowlist.

    manage.py paymentiq_credentials --brand northstar-uk --basic piq-northstar --password-stdin \\
        --allow 203.0.113.10 --allow 198.51.100.0/24 --activate < password.txt
    manage.py paymentiq_credentials --brand northstar-uk --bearer --activate

--basic sets HTTP Basic with this username; the password comes from stdin (--password-stdin)
or an interactive prompt, never from the command line (where `ps` would show it). --bearer
switches to a Bearer token and generates a new one, printed once: it is stored only as its
SHA-256. --allow replaces the allowlist (repeat it for several addresses or networks);
an empty allowlist refuses every caller.
"""

import getpass
import sys

from django.core.management.base import BaseCommand, CommandError

from apps.core.actors import system_actor
from apps.payments.providers.paymentiq.models import PaymentIQIntegration
from apps.payments.providers.paymentiq.services import IntegrationRefused, paymentiq_integration_configure
from apps.tenants.selectors import brand_get_by_code


class Command(BaseCommand):
    help = "Set a brand's PaymentIQ credentials (Basic or a generated Bearer token) and IP allowlist."

    def add_arguments(self, parser):
        parser.add_argument("--brand", required=True, help="The brand's code.")
        scheme = parser.add_mutually_exclusive_group()
        scheme.add_argument("--basic", metavar="USERNAME", help="Use HTTP Basic with this username.")
        scheme.add_argument(
            "--bearer", action="store_true", help="Use a Bearer token: generate a new one (printed once)."
        )
        parser.add_argument(
            "--password-stdin", action="store_true", help="Read the Basic password from stdin's first line."
        )
        allow = parser.add_mutually_exclusive_group()
        allow.add_argument(
            "--allow", action="append", metavar="IP_OR_CIDR", help="Allowed caller (replaces the list)."
        )
        allow.add_argument("--clear-allowlist", action="store_true", help="Allow nobody (fail closed).")
        state = parser.add_mutually_exclusive_group()
        state.add_argument("--activate", action="store_true", help="Switch the integration on.")
        state.add_argument("--deactivate", action="store_true", help="Switch the integration off.")

    def handle(self, *args, **options):
        brand = brand_get_by_code(options["brand"])
        if brand is None:
            raise CommandError(f"No brand with code {options['brand']!r}.")
        password = None
        if options["password_stdin"]:
            if not options["basic"]:
                raise CommandError("--password-stdin goes with --basic.")
            password = sys.stdin.readline().rstrip("\r\n")
        elif options["basic"]:
            if not sys.stdin.isatty():
                raise CommandError("Give the password with --password-stdin.")
            password = getpass.getpass("PaymentIQ Basic password: ")
            if getpass.getpass("Again: ") != password:
                raise CommandError("The passwords differ.")
        scheme = "basic" if options["basic"] else "bearer" if options["bearer"] else None
        allowlist = options["allow"] if options["allow"] else [] if options["clear_allowlist"] else None
        active = True if options["activate"] else False if options["deactivate"] else None
        try:
            integration, token = paymentiq_integration_configure(
                brand=brand,
                actor=system_actor("paymentiq_credentials"),
                auth_scheme=scheme,
                basic_username=options["basic"],
                basic_password=password,
                generate_token=bool(options["bearer"]),
                ip_allowlist=allowlist,
                active=active,
            )
        except IntegrationRefused as exc:
            raise CommandError(exc.message) from exc
        self._report(brand, integration, token)

    def _report(self, brand, integration: PaymentIQIntegration, token: str | None) -> None:
        state = "active" if integration.active else "inactive"
        self.stdout.write(f"PaymentIQ integration of {brand.code}: {state}, {integration.auth_scheme}")
        if integration.auth_scheme == PaymentIQIntegration.AuthScheme.BASIC:
            password = "set" if integration.basic_password_hash else "not set"
            self.stdout.write(
                f"Basic username: {integration.basic_username or '(none)'}; password {password}"
            )
        elif integration.bearer_token_sha256:
            self.stdout.write(f"Bearer token: set (SHA-256 begins {integration.bearer_token_sha256[:12]})")
        allowed = ", ".join(integration.ip_allowlist) or "nobody (empty: every call is refused)"
        self.stdout.write(f"IP allowlist: {allowed}")
        if token:
            self.stdout.write("New bearer token (give it to PaymentIQ now; it cannot be shown again):")
            self.stdout.write(token)
