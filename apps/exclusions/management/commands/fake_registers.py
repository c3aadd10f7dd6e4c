"""Run the fake GAMSTOP and Spelpaus registers the demo brands are configured with.

Not for production: they answer as the public protocols do, from a few demo persons.
"""

import time

from django.core.management.base import BaseCommand

from apps.exclusions import demo
from apps.exclusions.fakes import FakeGamstop, FakeSpelpaus

# Registration on the demo brands with these is refused by the register.
GAMSTOP_DEMO = {"gamstop.excluded@example.com": "Y", "gamstop.lapsed@example.com": "P"}
SPELPAUS_DEMO = {"190001019801"}  # 19000101-9801, a valid personnummer


class Command(BaseCommand):
    help = "Run fake GAMSTOP and Spelpaus registers on the demo ports until interrupted."

    def add_arguments(self, parser):
        parser.add_argument("--gamstop-port", type=int, default=demo.GAMSTOP_PORT)
        parser.add_argument("--spelpaus-port", type=int, default=demo.SPELPAUS_PORT)

    def handle(self, *args, **options):
        excluded, blocked = dict(GAMSTOP_DEMO), set(SPELPAUS_DEMO)
        # One existing demo player of each brand is on the register: their next login is
        # refused and their account self-excluded (the first player, printed by seed_demo, is not).
        for code, mark in (("northstar-uk", "gamstop"), ("nordicplay-se", "spelpaus")):
            player = self._second_player(code)
            if player is None:
                continue
            if mark == "gamstop":
                excluded[player.email.lower()] = "Y"
            else:
                blocked.add(player.national_id.replace("-", ""))
            self.stdout.write(f"{mark}: demo player '{player.username}' of {code} is excluded")
        gamstop = FakeGamstop(port=options["gamstop_port"], api_key=demo.GAMSTOP_KEY, excluded=excluded)
        spelpaus = FakeSpelpaus(
            port=options["spelpaus_port"],
            api_key=demo.SPELPAUS_KEY,
            actor_id=demo.SPELPAUS_ACTOR,
            blocked=blocked,
        )
        with gamstop, spelpaus:
            self.stdout.write(
                f"Fake GAMSTOP on {gamstop.url} (excluded: {', '.join(sorted(excluded))}); "
                f"fake Spelpaus on {spelpaus.url} (blocked: {', '.join(sorted(blocked))}). Ctrl-C stops them."
            )
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass

    @staticmethod
    def _second_player(brand_code: str):
        from django.db import DatabaseError

        from apps.players.models import Player

        try:
            players = list(Player.objects.filter(brand__code=brand_code).order_by("id")[:2])
        except DatabaseError:
            return None  # no database yet: the fixed demo persons only
        return players[1] if len(players) == 2 else None
