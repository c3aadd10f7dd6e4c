"""Games: the providers' catalogue, game sessions (launch tokens) and game rounds.

Money never lives here: bets, wins and rollbacks are ledger transactions of the wallet.
A Round is a projection of those transactions, kept by the handlers in handlers.py after
the wallet's transaction has committed, so recording rounds adds no write to the bet.
"""

import hashlib

from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.players.models import Player
from apps.tenants.models import Brand
from apps.wallet.models import Wallet


class Game(models.Model):
    """A game a provider offers. The catalogue is platform-wide: every brand sees the same rows."""

    class Product(models.TextChoices):
        CASINO = "casino", "Casino"
        LIVE = "live", "Live casino"
        SPORTS = "sports", "Sports"
        BINGO = "bingo", "Bingo"

    provider = models.CharField(max_length=32, help_text='The aggregator or studio, e.g. "hub88".')
    code = models.CharField(max_length=128, help_text="The provider's game code (Hub88 game_code).")
    name = models.CharField(max_length=200)
    product = models.CharField(max_length=10, choices=Product.choices, default=Product.CASINO)
    active = models.BooleanField(default=True, help_text="Inactive games refuse new sessions and bets.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["provider", "name"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "code"], name="games_game_code_unique_per_provider"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.provider}:{self.code})"

    def get_additional_data(self) -> dict:
        # Platform rows: the scoped audit log shows them to superusers only.
        return {"operator_id": None, "brand_id": None}


class GameSession(models.Model):
    """One game launch: the token the provider sends back on every wallet call.

    Only the token's SHA-256 is stored; the token itself is shown once, to whoever opened
    the session (the launch flow, the support command).
    """

    player = models.ForeignKey(Player, on_delete=models.PROTECT, related_name="game_sessions")
    # Denormalised from the player, like the wallet's: scoping without a join.
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="game_sessions")
    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="game_sessions")
    game = models.ForeignKey(Game, on_delete=models.PROTECT, related_name="sessions")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    closed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Set when the session was ended early (e.g. the player was excluded).",
    )

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(
                fields=["player"], name="games_session_open_idx", condition=Q(closed_at__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return f"game session #{self.pk} of player {self.player_id}"

    @staticmethod
    def hash_token(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def is_live(self, now=None) -> bool:
        """Not closed and not expired: new bets may be taken on it."""
        now = now or timezone.now()
        return self.closed_at is None and self.expires_at > now


class Round(models.Model):
    """A provider's game round on one wallet: what was staked and won in it, net of rollbacks.

    Built from the wallet's events (handlers.py). `applied` holds, per event id, the
    transaction that event announced; the totals are recomputed from it, so an event
    delivered twice or out of order changes nothing.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    provider = models.CharField(max_length=32)
    round_ref = models.CharField(max_length=128)
    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="game_rounds")
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="game_rounds")
    game = models.ForeignKey(Game, null=True, blank=True, on_delete=models.PROTECT, related_name="rounds")
    status = models.CharField(max_length=6, choices=Status.choices, default=Status.OPEN)
    bet_total = models.BigIntegerField(default=0, help_text="Minor units staked, less rolled-back bets.")
    win_total = models.BigIntegerField(default=0, help_text="Minor units won, less rolled-back wins.")
    opened_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    applied = models.JSONField(
        default=dict,
        blank=True,
        help_text="Event id -> [kind, ledger transaction id, amount, reversed transaction id].",
    )

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "round_ref", "wallet"], name="games_round_unique_per_wallet"
            ),
        ]
        indexes = [models.Index(fields=["brand", "-opened_at"], name="games_round_brand_idx")]

    def __str__(self) -> str:
        return f"round {self.provider}:{self.round_ref} ({self.status})"


# The providers' models belong to this app (one app, one migration history).
from apps.games.providers.hub88.models import Hub88Integration  # noqa: E402, F401
