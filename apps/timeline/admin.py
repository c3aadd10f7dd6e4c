from django.contrib import admin

from apps.tenants.admin_scoping import BrandListFilter, ReadOnlyAdminMixin, ScopedAdminMixin
from apps.timeline.models import TimelineEntry
from apps.timeline.selectors import timeline_entries_visible_to


class PlayerIdFilter(admin.SimpleListFilter):
    """?player=ID: one player's timeline (the link a player's page can use)."""

    title = "player id"
    parameter_name = "player"

    def lookups(self, request, model_admin):
        value = self.value()
        return [(value, f"#{value}")] if value and value.isdigit() else []

    def has_output(self):
        # Always shown, so always applied (see BrandListFilter).
        return True

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if not value.isdigit():
            return queryset.none()
        return queryset.filter(player_id=int(value))


@admin.register(TimelineEntry)
class TimelineEntryAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    """Player timelines, projected from the outbox (read-only)."""

    scoping_selector = staticmethod(timeline_entries_visible_to)
    list_display = ["occurred_at", "player", "category", "summary", "amount", "currency", "actor"]
    list_filter = [PlayerIdFilter, "category", ("brand", BrandListFilter)]
    list_select_related = ["player"]
    search_fields = ["summary"]
    fields = [
        "player",
        "brand",
        "occurred_at",
        "category",
        "summary",
        "amount",
        "currency",
        "source_type",
        "source_id",
        "actor",
        "event",
        "created_at",
    ]
    readonly_fields = fields
    ordering = ["-occurred_at", "-id"]
    show_full_result_count = False
