from django.contrib import admin
from django.utils import timezone

from apps.core.money import money_format
from apps.games.models import Game, GameSession, Round
from apps.games.providers.hub88.admin import Hub88IntegrationAdmin  # noqa: F401 - registers it
from apps.games.selectors import games_visible_to, rounds_visible_to, sessions_visible_to
from apps.tenants.admin_scoping import BrandListFilter, ReadOnlyAdminMixin, ScopedAdminMixin


@admin.register(Game)
class GameAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """The providers' catalogue. Shared by every operator, so only platform staff change it."""

    scoping_selector = staticmethod(games_visible_to)
    list_display = ["name", "provider", "code", "product", "active"]
    list_filter = ["provider", "product", "active"]
    search_fields = ["name", "=code"]
    ordering = ["provider", "name"]
    fields = ["provider", "code", "name", "product", "active", "created_at"]
    readonly_fields = ["created_at"]

    def get_readonly_fields(self, request, obj=None):
        # The code is what providers send; changing it would orphan sessions and rounds.
        return ["created_at", "provider", "code"] if obj is not None else ["created_at"]

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return False  # sessions and rounds keep referring to it; deactivate instead


@admin.register(GameSession)
class GameSessionAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    """Game launches. The token is never shown: only its hash is stored, and not shown either."""

    scoping_selector = staticmethod(sessions_visible_to)
    list_display = ["id", "player", "brand", "game", "currency", "created_at", "expires_at", "state"]
    list_filter = [("brand", BrandListFilter), "game__provider"]
    list_select_related = ["player", "brand", "game", "wallet"]
    search_fields = ["=id", "=player__id"]
    fields = ["player", "brand", "game", "wallet", "created_at", "expires_at", "closed_at", "state"]
    readonly_fields = fields
    ordering = ["-id"]
    show_full_result_count = False

    @admin.display(description="Currency")
    def currency(self, obj):
        return obj.wallet.currency_id

    @admin.display(description="State")
    def state(self, obj):
        if obj.closed_at is not None:
            return "closed"
        return "live" if obj.expires_at > timezone.now() else "expired"


@admin.register(Round)
class RoundAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    """Game rounds as the wallet recorded them (projected from its events)."""

    scoping_selector = staticmethod(rounds_visible_to)
    list_display = [
        "id",
        "provider",
        "round_ref",
        "brand",
        "wallet",
        "game",
        "status",
        "bets",
        "wins",
        "opened_at",
    ]
    list_filter = [("brand", BrandListFilter), "provider", "status"]
    list_select_related = ["brand", "wallet__currency", "game"]
    search_fields = ["=round_ref", "=wallet__player__id"]
    fields = [
        "provider",
        "round_ref",
        "brand",
        "wallet",
        "game",
        "status",
        "bets",
        "wins",
        "opened_at",
        "closed_at",
        "applied",
    ]
    readonly_fields = fields
    ordering = ["-id"]
    show_full_result_count = False

    @admin.display(description="Bets")
    def bets(self, obj):
        return _money(obj.bet_total, obj.wallet.currency)

    @admin.display(description="Wins")
    def wins(self, obj):
        return _money(obj.win_total, obj.wallet.currency)


def _money(minor: int, currency) -> str:
    return money_format(minor, currency_exponent=currency.exponent, currency_code=currency.code)
