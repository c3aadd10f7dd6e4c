from auditlog.admin import LogEntryAdmin
from auditlog.models import LogEntry
from django.contrib import admin, messages
from django.db.models import Q

from apps.core import outbox
from apps.core.models import Currency, Event, EventDelivery
from apps.tenants.admin_scoping import ReadOnlyAdminMixin, ScopedAdminMixin
from apps.tenants.selectors import brands_visible_to, operators_administered_by


def events_visible_to(user):
    """Events of the user's brands; brand-less (platform) events only to superusers."""
    if user.is_superuser and user.is_active:
        return Event.objects.all()
    return Event.objects.filter(brand_id__in=brands_visible_to(user).values("pk"))


def deliveries_visible_to(user):
    return EventDelivery.objects.filter(event__in=events_visible_to(user).values("pk"))


def audit_entries_visible_to(user):
    """Audit rows about the user's brands, and operator-level rows of operators they administer."""
    if user.is_superuser and user.is_active:
        return LogEntry.objects.all()
    brand_ids = list(brands_visible_to(user).values_list("pk", flat=True))
    operator_ids = list(operators_administered_by(user).values_list("pk", flat=True))
    return LogEntry.objects.filter(
        Q(additional_data__brand_id__in=brand_ids)
        # `brand_id=None` matches the JSON null that operator-level rows store; `__isnull=True`
        # would only match rows without the key, i.e. none of them.
        | Q(additional_data__brand_id=None, additional_data__operator_id__in=operator_ids)
    )


@admin.register(Currency)
class CurrencyAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "exponent"]

    def has_delete_permission(self, request, obj=None):
        return False  # ledger rows refer to currencies for as long as records are kept


class DeliveryInline(admin.TabularInline):
    model = EventDelivery
    fields = ["handler", "status", "attempts", "next_attempt_at", "delivered_at", "last_error"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Event)
class EventAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    scoping_selector = staticmethod(events_visible_to)
    list_display = ["id", "type", "brand_id", "player_id", "actor", "occurred_at", "dispatched_at"]
    list_filter = ["type"]
    search_fields = ["=id", "=player_id", "=correlation_id", "type"]
    show_full_result_count = False
    inlines = [DeliveryInline]


@admin.register(EventDelivery)
class EventDeliveryAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    """Where failed handlers show up; `Retry now` sends a dead delivery round again."""

    scoping_selector = staticmethod(deliveries_visible_to)
    list_display = ["id", "event", "handler", "status", "attempts", "next_attempt_at", "delivered_at"]
    list_filter = ["status", "handler"]
    list_select_related = ["event"]
    readonly_fields = [
        "event",
        "handler",
        "status",
        "attempts",
        "next_attempt_at",
        "delivered_at",
        "last_error",
        "created_at",
    ]
    actions = ["retry_now"]
    show_full_result_count = False

    def has_retry_permission(self, request):
        return request.user.is_superuser

    @admin.action(description="Retry now", permissions=["retry"])
    def retry_now(self, request, queryset):
        delivered = sum(outbox.delivery_retry(delivery=d, actor=request.user) for d in queryset)
        messages.info(request, f"{delivered} of {queryset.count()} delivery(ies) now done.")


admin.site.unregister(LogEntry)


@admin.register(LogEntry)
class ScopedLogEntryAdmin(ScopedAdminMixin, LogEntryAdmin):
    """auditlog's own admin, scoped to the brands and operators the user may see."""

    scoping_selector = staticmethod(audit_entries_visible_to)
    show_full_result_count = False

    def get_queryset(self, request):
        self.request = request  # auditlog's display helpers read it
        return super().get_queryset(request)
