"""manage.py timeline_rebuild [--player ID]: replay the outbox into the timeline."""

from django.core.management.base import BaseCommand

from apps.timeline.services import REBUILD_BATCH, timeline_rebuild


class Command(BaseCommand):
    help = "Add the timeline entries of every outbox event that lacks one (safe to repeat)."

    def add_arguments(self, parser):
        parser.add_argument("--player", type=int, default=None, help="Only this player's events.")
        parser.add_argument("--batch-size", type=int, default=REBUILD_BATCH)

    def handle(self, *args, player=None, batch_size=REBUILD_BATCH, **options):
        added = timeline_rebuild(player_id=player, batch_size=batch_size)
        self.stdout.write(f"timeline entries added: {added}")
