from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.utils.functional import cached_property

from apps.compliance.packs import jurisdiction_choices
from apps.core.exceptions import DomainError
from apps.players.selectors import players_visible_to
from apps.tenants.admin_scoping import BrandListFilter, ReadOnlyAdminMixin, ScopedAdminMixin
from apps.tenants.exceptions import AccessDenied
from apps.tenants.permissions import user_can
from apps.timeline.erasure import erasure_request_check, erasure_request_create
from apps.timeline.exceptions import PolicyRefused
from apps.timeline.models import ErasureRequest, PurgeRecord, RetentionPolicy, TimelineEntry
from apps.timeline.retention import policy_check, retention_policy_set
from apps.timeline.selectors import (
    SummaryContains,
    erasure_requests_visible_to,
    purge_records_visible_to,
    retention_policies_visible_to,
    timeline_entries_visible_to,
)
from apps.timeline.tasks import erasure_request_process_task


def _digits(value: str) -> bool:
    """ASCII digits only: "²".isdigit() is true, and int("²") raises."""
    return value.isascii() and value.isdigit()


class PlayerIdFilter(admin.SimpleListFilter):
    """?player=ID: one player's timeline (the link a player's page can use)."""

    title = "player id"
    parameter_name = "player"

    def lookups(self, request, model_admin):
        value = self.value()
        return [(value, f"#{value}")] if value and _digits(value) else []

    def has_output(self):
        # Always shown, so always applied (see BrandListFilter).
        return True

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if not _digits(value):
            return queryset.none()
        return queryset.filter(player_id=int(value))


class CappedCountPaginator(Paginator):
    """Counts at most COUNT_CAP rows: `SELECT COUNT(*) FROM (SELECT 1 ... LIMIT cap + 1)`,
    without the ordering, so the count stops at the cap instead of reading every row of the
    list (a whale's 100,000 entries, the whole table unfiltered). Past the cap the list
    says "more than" (pagination.html of this admin) and pages stop at the cap."""

    # 1,000 (ten pages of 100): PostgreSQL counts them from the player's index in a few ms;
    # at 10,000 it switches to a bitmap scan of all a whale's 100,000 entries (~200 ms).
    COUNT_CAP = 1_000

    @cached_property
    def count(self) -> int:
        counted = self.object_list.order_by()[: self.COUNT_CAP + 1].count()
        self.capped = counted > self.COUNT_CAP
        return min(counted, self.COUNT_CAP)

    capped = False


class TimelineChangeList(ChangeList):
    """Only the orders an index serves (TimelineEntryAdmin.get_ordering): a hand-written
    ?o= (the columns are not sortable) would sort the whole table."""

    def get_ordering(self, request, queryset):
        return self.model_admin.get_ordering(request)


@admin.register(TimelineEntry)
class TimelineEntryAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    """Player timelines, projected from the outbox (read-only).

    Never counts or sorts the whole table: a capped count (CappedCountPaginator), no count
    of the unfiltered table (show_full_result_count), and an order an index serves
    (get_ordering). The search is the API's text filter (selectors.SummaryContains)."""

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
        "redacted_at",
    ]
    readonly_fields = fields
    ordering = ["-occurred_at", "-id"]
    show_full_result_count = False
    paginator = CappedCountPaginator
    # No sorting by column: sorting every entry by another column reads the whole table.
    sortable_by: list[str] = []

    def get_changelist(self, request, **kwargs):
        return TimelineChangeList

    def get_ordering(self, request):
        """A player's timeline newest first by time (their (player, occurred_at, id) index);
        every player's entries newest recorded first (the primary key): by time, PostgreSQL
        would sort the whole table for each page (10 million rows: ~11 s)."""
        if _digits(request.GET.get(PlayerIdFilter.parameter_name) or ""):
            return ["-occurred_at", "-id"]
        return ["-id"]

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(SummaryContains(term)), False


# --- retention policies, purge records, erasure requests -----------------------------------------


class RetentionPolicyForm(forms.ModelForm):
    """Checks the rule the way the service will (policy_check); the user is set per request
    by get_form, never kept on the shared ModelAdmin."""

    user = None

    class Meta:
        model = RetentionPolicy
        fields = ["category", "brand", "jurisdiction", "action", "after_days", "legal_basis"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "jurisdiction" in self.fields:
            self.fields["jurisdiction"] = forms.ChoiceField(
                choices=[("", "— every jurisdiction —"), *jurisdiction_choices()],
                required=False,
                help_text="Platform rules only (superusers); a brand's rule applies to its own.",
            )

    def clean(self):
        data = super().clean()
        instance = self.instance
        brand = data.get("brand", instance.brand if instance.pk else None)
        jurisdiction = data.get("jurisdiction", instance.jurisdiction if instance.pk else "") or ""
        category = data.get("category", instance.category if instance.pk else None)
        if brand is None and not (self.user and self.user.is_superuser):
            raise forms.ValidationError({"brand": "Choose your brand: platform rules are for superusers."})
        if brand is not None and jurisdiction:
            raise forms.ValidationError({"jurisdiction": "A brand's rule applies to its own jurisdiction."})
        if category and data.get("action") and data.get("after_days"):
            try:
                policy_check(
                    brand=brand, category=category, action=data["action"], after_days=data["after_days"]
                )
            except PolicyRefused as exc:
                raise forms.ValidationError(exc.message) from exc
        return data


@admin.register(RetentionPolicy)
class RetentionPolicyAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """How long each category of entries is kept. Platform rows (default, per jurisdiction)
    are listed to everyone and changed by superusers; brand rows by the brand's admins."""

    scoping_selector = staticmethod(retention_policies_visible_to)
    form = RetentionPolicyForm
    list_display = ["category", "level", "action", "after_days", "legal_basis", "updated_at"]
    list_filter = ["category", "action"]
    list_select_related = ["brand"]
    ordering = ["category", "brand_id", "jurisdiction"]

    @admin.display(description="applies to")
    def level(self, obj):
        if obj.brand_id:
            return f"brand {obj.brand.code}"
        return f"jurisdiction {obj.jurisdiction}" if obj.jurisdiction else "default"

    def _may_edit(self, request, obj) -> bool:
        if obj is None:
            return True
        if obj.brand_id is None:
            return request.user.is_superuser
        return user_can(request.user, "timeline.change_retentionpolicy", brand_id=obj.brand_id)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._may_edit(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._may_edit(request, obj)

    def get_readonly_fields(self, request, obj=None):
        # Which rule a row is never changes: a different rule is another row.
        return ["category", "brand", "jurisdiction"] if obj is not None else []

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"user": request.user})

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            saved = retention_policy_set(
                actor=request.user,
                category=obj.category,
                brand=obj.brand,
                jurisdiction=obj.jurisdiction or "",
                action=data["action"],
                after_days=data["after_days"],
                legal_basis=data.get("legal_basis", ""),
            )
        except AccessDenied as exc:
            raise PermissionDenied(exc.message) from exc
        obj.pk, obj.updated_at = saved.pk, saved.updated_at


@admin.register(PurgeRecord)
class PurgeRecordAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    """Every removal from the timeline (retention runs and erasures), read-only."""

    scoping_selector = staticmethod(purge_records_visible_to)
    list_display = [
        "started_at",
        "kind",
        "brand",
        "category",
        "action",
        "cutoff",
        "rows_removed",
        "rows_summarised",
        "rows_anonymised",
        "summaries_written",
        "status",
        "finished_at",
        "actor",
    ]
    list_filter = ["kind", "status", "category", ("brand", BrandListFilter)]
    list_select_related = ["brand"]
    ordering = ["-started_at", "-id"]


class ErasureRequestForm(forms.ModelForm):
    user = None

    class Meta:
        model = ErasureRequest
        fields = ["player", "reason"]

    def clean(self):
        data = super().clean()
        if data.get("player") is not None:
            try:
                erasure_request_check(actor=self.user, player=data["player"], reason=data.get("reason", ""))
            except AccessDenied as exc:
                raise forms.ValidationError(exc.message) from exc
            except DomainError as exc:
                raise forms.ValidationError(exc.message) from exc
        return data


@admin.register(ErasureRequest)
class ErasureRequestAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """GDPR erasure requests: support or compliance adds one, a person holding
    timeline.process_erasure processes it (action; runs in a worker)."""

    scoping_selector = staticmethod(erasure_requests_visible_to)
    form = ErasureRequestForm
    raw_id_fields = ["player"]
    list_display = [
        "id",
        "player",
        "brand",
        "status",
        "requested_by",
        "requested_at",
        "processed_by",
        "processed_at",
        "entries_purged",
        "entries_anonymised",
        "retained_fields",
    ]
    list_filter = ["status", ("brand", BrandListFilter)]
    list_select_related = ["player", "brand", "requested_by", "processed_by"]
    ordering = ["-requested_at", "-id"]
    actions = ["process"]
    readonly_fields = [
        "brand",
        "status",
        "requested_by",
        "requested_at",
        "processed_by",
        "started_at",
        "processed_at",
        "retained_fields",
        "retained_released_at",
        "entries_purged",
        "entries_anonymised",
    ]

    def has_change_permission(self, request, obj=None):
        return False  # a request is a record: it changes only by being processed

    def has_delete_permission(self, request, obj=None):
        return False

    def has_process_permission(self, request):
        return request.user.has_perm("timeline.process_erasure")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "player":
            kwargs["queryset"] = players_visible_to(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"user": request.user})

    def save_model(self, request, obj, form, change):
        try:
            saved = erasure_request_create(
                actor=request.user, player=form.cleaned_data["player"], reason=form.cleaned_data["reason"]
            )
        except AccessDenied as exc:
            raise PermissionDenied(exc.message) from exc
        except DomainError as exc:  # lost a race with another request for the same player
            raise PermissionDenied(exc.message) from exc
        obj.pk, obj.brand_id, obj.requested_by_id = saved.pk, saved.brand_id, saved.requested_by_id

    @admin.action(description="Process the selected erasure requests (in a worker)", permissions=["process"])
    def process(self, request, queryset):
        queued = 0
        for erasure in queryset.order_by("pk"):
            if erasure.status == ErasureRequest.Status.COMPLETED:
                messages.info(request, f"#{erasure.pk}: already completed.")
                continue
            if not user_can(request.user, "timeline.process_erasure", brand_id=erasure.brand_id):
                messages.error(request, f"#{erasure.pk}: you may not process erasures of this brand.")
                continue
            erasure_request_process_task.delay(erasure.pk, request.user.pk)
            queued += 1
        if queued:
            messages.success(request, f"{queued} erasure request(s) sent for processing.")
