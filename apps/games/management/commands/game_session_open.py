"""Open a game session for a player and print its token (integration testing, support).

    manage.py game_session_open --player 42 --game evo_lightningroulette --currency EUR

The token is printed once and not stored (only its hash is).
"""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from apps.core.actors import system_actor
from apps.core.exceptions import DomainError
from apps.games.selectors import game_get
from apps.games.services import game_session_open
from apps.players.models import Player


class Command(BaseCommand):
    help = "Open a game session for a player and print its token."

    def add_arguments(self, parser):
        parser.add_argument("--player", type=int, required=True, help="The player's id.")
        parser.add_argument("--game", required=True, help="The game's code at its provider.")
        parser.add_argument("--provider", default="hub88", help="The game's provider (default hub88).")
        parser.add_argument("--currency", help="The wallet's currency (default: the player's).")
        parser.add_argument("--ttl-minutes", type=int, default=60, help="How long it lasts (default 60).")

    def handle(self, *args, **options):
        player = Player.objects.select_related("brand").filter(pk=options["player"]).first()
        if player is None:
            raise CommandError(f"No player {options['player']}.")
        game = game_get(provider=options["provider"], code=options["game"])
        if game is None:
            raise CommandError(f"No {options['provider']} game {options['game']!r}.")
        try:
            session, token = game_session_open(
                player=player,
                game=game,
                currency_code=options["currency"] or player.currency_id,
                actor=system_actor("game_session_open"),
                ttl=timedelta(minutes=options["ttl_minutes"]),
            )
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        self.stderr.write(
            f"Session #{session.pk}: player {player.pk} ({player.brand.code}), {game}, "
            f"{session.wallet.currency_id}, until {session.expires_at:%Y-%m-%d %H:%M:%S %Z}"
        )
        self.stdout.write(token)
