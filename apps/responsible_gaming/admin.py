"""Compliance officers' pages: exclusions in force, pending limit increases, recent refusals,
and the limits themselves. Every list is scoped to the staff member's brands."""

from django.contrib import admin, messages
from django.utils import timezone

from apps.core.exceptions import DomainError
from apps.responsible_gaming import selectors, services
from apps.responsible_gaming.models import Exclusion, Limit, LimitChange, Refusal
from apps.security.interface import reauth_required
from apps.tenants.admin_scoping import BrandListFilter, ReadOnlyAdminMixin, ScopedAdminMixin


class ActiveExclusionFilter(admin.SimpleListFilter):
    title = "in force"
    parameter_name = "in_force"

    def lookups(self, request, model_admin):
        return [("yes", "In force"), ("no", "Ended")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return selectors.exclusions_active(queryset)
        if self.value() == "no":
            return queryset.filter(ends_at__lte=timezone.now())
        return queryset


@admin.register(Exclusion)
class ExclusionAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    """Players with time-outs and self-exclusions (filter "in force" for the active ones)."""

    scoping_selector = staticmethod(selectors.exclusions_visible_to)
    list_display = ["player", "brand", "kind", "scope", "starts_at", "ends_at", "requested_by"]
    list_filter = [ActiveExclusionFilter, "kind", "scope", ("brand", BrandListFilter)]
    list_select_related = ["player", "brand"]
    ordering = ["-id"]


@admin.register(LimitChange)
class LimitChangeAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    """Requested limit changes; the pending ones are the increases waiting for their cooling-off."""

    scoping_selector = staticmethod(selectors.limit_changes_visible_to)
    list_display = [
        "player",
        "brand",
        "kind",
        "period",
        "old_amount",
        "new_amount",
        "currency",
        "status",
        "effective_at",
        "rule",
    ]
    list_filter = ["status", "kind", "period", ("brand", BrandListFilter)]
    list_select_related = ["player", "brand"]
    ordering = ["effective_at"]
    actions = ["cancel_changes"]

    def has_set_limits_permission(self, request):
        return request.user.has_perm("responsible_gaming.set_limits")

    @admin.action(description="Cancel the selected pending increases", permissions=["set_limits"])
    @reauth_required("change a player's limits")
    def cancel_changes(self, request, queryset):
        done = 0
        for change in queryset.filter(status=LimitChange.Status.PENDING).select_related("player"):
            try:
                services.limit_change_cancel(
                    actor=request.user, change=change, reason=f"cancelled in the admin by {request.user}"
                )
                done += 1
            except DomainError as exc:
                self.message_user(request, f"{change}: {exc.message}", messages.ERROR)
        self.message_user(request, f"{done} pending change(s) cancelled.", messages.SUCCESS)


@admin.register(Limit)
class LimitAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    scoping_selector = staticmethod(selectors.limits_visible_to)
    list_display = ["player", "brand", "kind", "period", "amount", "currency", "set_by", "updated_at"]
    list_filter = ["kind", "period", ("brand", BrandListFilter)]
    list_select_related = ["player", "brand"]
    ordering = ["-updated_at"]


@admin.register(Refusal)
class RefusalAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    """Recent refusals (breach attempts): money movements the guard refused."""

    scoping_selector = staticmethod(selectors.refusals_visible_to)
    list_display = [
        "occurred_at",
        "player",
        "brand",
        "action",
        "code",
        "amount",
        "currency",
        "source",
        "game_ref",
    ]
    list_filter = ["code", "action", ("brand", BrandListFilter)]
    list_select_related = ["player", "brand"]
    ordering = ["-occurred_at"]
    date_hierarchy = "occurred_at"
