"""Self-exclusion registers in the staff UI: register configuration per brand (the API key
is write-only: shown as "set" / "not set"), the history of every check (personal data in
what was sent masked without players.view_personal_data), and "Check now" for support
agents (exclusions.check_now; through services.check_now, which stores and audits it).

Batch run and chunk admins (read-only) follow at the end of this module.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from apps.core.exceptions import DomainError
from apps.exclusions import services
from apps.exclusions.models import RegisterCheck, RegisterConfig
from apps.exclusions.selectors import register_checks_visible_to, register_configs_visible_to
from apps.players.masking import masked, personal_data_visible
from apps.players.selectors import player_get
from apps.security.interface import personal_data_read_record, reauth_required
from apps.tenants.admin_scoping import BrandListFilter, ReadOnlyAdminMixin, ScopedAdminMixin

# Keys of RegisterCheck.request that are ours, not the person's: shown to everyone.
NOT_PERSONAL = {"trace_id", "requestId", "invalid"}


# --- configuration --------------------------------------------------------------------------


class RegisterConfigForm(forms.ModelForm):
    base_url = forms.URLField(
        assume_scheme="https", help_text=RegisterConfig._meta.get_field("base_url").help_text
    )
    batch_url = forms.URLField(
        assume_scheme="https", required=False, help_text=RegisterConfig._meta.get_field("batch_url").help_text
    )
    new_api_key = forms.CharField(
        label="API key",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Type a key to set or replace it; leave empty to keep the current one. Never shown again.",
    )

    class Meta:
        model = RegisterConfig
        fields = ["brand", "register", "active", "base_url", "batch_url", "actor_id", "timeout_seconds"]

    def clean(self):
        cleaned = super().clean()
        has_key = bool(cleaned.get("new_api_key") or self.instance.api_key)
        if cleaned.get("active") and not has_key:
            raise forms.ValidationError("An active register configuration needs an API key.")
        if cleaned.get("register") == "spelpaus" and cleaned.get("active") and not cleaned.get("actor_id"):
            self.add_error("actor_id", "Spelpaus needs the operator's actorId.")
        timeout = cleaned.get("timeout_seconds")
        if timeout is not None and not 0.1 <= timeout <= 30:
            self.add_error("timeout_seconds", "Between 0.1 and 30 seconds.")
        return cleaned


@admin.register(RegisterConfig)
class RegisterConfigAdmin(ScopedAdminMixin, admin.ModelAdmin):
    scoping_selector = staticmethod(register_configs_visible_to)
    form = RegisterConfigForm
    list_display = ["brand", "register", "active", "base_url", "api_key_status", "updated_at"]
    list_filter = [("brand", BrandListFilter), "register", "active"]
    list_select_related = ["brand"]
    ordering = ["brand__name", "register"]

    def get_fields(self, request, obj=None):
        return [
            "brand",
            "register",
            "active",
            "base_url",
            "batch_url",
            "actor_id",
            "timeout_seconds",
            "api_key_status",
            "new_api_key",
        ]

    def get_readonly_fields(self, request, obj=None):
        return ["brand", "register", "api_key_status"] if obj is not None else ["api_key_status"]

    def has_delete_permission(self, request, obj=None):
        return False  # switch it off instead; its checks and audit trail stay attached

    @admin.display(description="API key")
    def api_key_status(self, obj):
        return "set" if obj is not None and obj.api_key else "not set"

    def save_model(self, request, obj, form, change):
        """Through the service: checked per brand, audited, breaker reset."""
        data = form.cleaned_data
        try:
            saved = services.register_config_save(
                actor=request.user,
                brand=obj.brand,
                register=obj.register,
                api_key=data.get("new_api_key") or None,
                **{name: getattr(obj, name) for name in services.CONFIG_FIELDS},
            )
        except DomainError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)
            return
        obj.pk = saved.pk


# --- check history and "check now" ---------------------------------------------------------


def _sent_column(user):
    """What was sent to the register; the person's fields masked unless `user` may see them."""

    @admin.display(description="Sent")
    def sent(obj):
        visible = personal_data_visible(user, brand_id=obj.brand_id)
        shown = {
            key: value if visible or key in NOT_PERSONAL else masked(value)
            for key, value in (obj.request or {}).items()
        }
        return format_html_join("", "<div><code>{}</code>: {}</div>", sorted(shown.items())) or "—"

    return sent


def _check_again_column(allowed: bool):
    @admin.display(description="Check now")
    def check_again(obj):
        if obj.player_id is None or not allowed:
            return "—"
        url = reverse("admin:exclusions_registercheck_check_now") + f"?player_id={obj.player_id}"
        return format_html('<a class="button" href="{}">Check this player now</a>', url)

    return check_again


class CheckNowForm(forms.Form):
    player_id = forms.IntegerField(label="Player id", min_value=1)


@admin.register(RegisterCheck)
class RegisterCheckAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    scoping_selector = staticmethod(register_checks_visible_to)
    change_list_template = "admin/exclusions/registercheck/change_list.html"
    list_display = [
        "created_at",
        "brand",
        "player_link",
        "register",
        "purpose",
        "outcome",
        "answer",
        "reference",
        "latency_ms",
        "actor",
    ]
    list_filter = [("brand", BrandListFilter), "register", "outcome", "purpose"]
    list_select_related = ["brand"]
    search_fields = ["=player__id", "=reference", "=correlation_id"]

    @admin.display(description="Player", ordering="player_id")
    def player_link(self, obj):
        if obj.player_id is None:
            return "— (registration)"
        url = reverse("admin:players_player_change", args=[obj.player_id])
        return format_html('<a href="{}">#{}</a>', url, obj.player_id)

    def _detail_fields(self, request) -> list:
        """The detail page's fields, with the columns that depend on the viewer made per
        request: the ModelAdmin is shared by every request, so it must not hold the user."""
        cached = getattr(request, "_exclusions_check_fields", None)
        if cached is None:
            cached = request._exclusions_check_fields = [
                "created_at",
                "brand",
                "player_link",
                "register",
                "purpose",
                "outcome",
                "answer",
                "reference",
                _sent_column(request.user),
                "error",
                "latency_ms",
                "correlation_id",
                "actor",
                "batch_run",
                _check_again_column(request.user.has_perm("exclusions.check_now")),
            ]
        return cached

    def get_fields(self, request, obj=None):
        return self._detail_fields(request)

    def get_readonly_fields(self, request, obj=None):
        return self._detail_fields(request)

    def has_check_now_permission(self, request):
        return request.user.has_perm("exclusions.check_now")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        check = (getattr(response, "context_data", None) or {}).get("original")
        if response.status_code == 200 and isinstance(check, RegisterCheck):
            # The "Sent" field shows the person's data as sent to the register, unmasked
            # for those who may see it: the access audit records which fields.
            sent = sorted(
                key for key, value in (check.request or {}).items() if key not in NOT_PERSONAL and value
            )
            if sent and personal_data_visible(request.user, brand_id=check.brand_id):
                personal_data_read_record(
                    request=request,
                    actor=request.user,
                    players=[(check.player_id, check.brand_id)],
                    fields=sent,
                    source="exclusions.admin.register_check",
                    object_type="exclusions.registercheck",
                    object_id=check.pk,
                )
        return response

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_check_now": self.has_check_now_permission(request)}
        return super().changelist_view(request, extra_context=extra_context)

    def get_urls(self):
        return [
            path(
                "check-now/",
                self.admin_site.admin_view(self.check_now_view),
                name="exclusions_registercheck_check_now",
            ),
            *super().get_urls(),
        ]

    def check_now_view(self, request):
        """Ask the player's registers now (GET: the form; POST: the check)."""
        if not self.has_check_now_permission(request):
            raise PermissionDenied
        form = CheckNowForm(request.POST if request.method == "POST" else request.GET or None)
        if request.method == "POST" and form.is_valid():
            player = player_get(user=request.user, player_id=form.cleaned_data["player_id"])
            if player is None:
                form.add_error("player_id", "No such player in your brands.")
            else:
                try:
                    checks = services.check_now(actor=request.user, player=player)
                except DomainError as exc:
                    self.message_user(request, exc.message, level=messages.ERROR)
                else:
                    for check in checks:
                        level = messages.ERROR if check.outcome in ("excluded", "error") else messages.SUCCESS
                        detail = check.error or f"answer {check.answer}, reference {check.reference or '-'}"
                        self.message_user(
                            request,
                            f"{check.get_register_display()}: {check.get_outcome_display()} ({detail}).",
                            level=level,
                        )
                    if not checks:
                        self.message_user(
                            request, "No register is configured for this brand.", messages.WARNING
                        )
                changelist = reverse("admin:exclusions_registercheck_changelist")
                return HttpResponseRedirect(f"{changelist}?q={player.pk}")
        context = {
            **self.admin_site.each_context(request),
            "title": "Check a player against the self-exclusion registers now",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/exclusions/check_now.html", context)


# --- batch runs (read-only) -------------------------------------------------------------------
# (apps/exclusions/batch.py; progress of the daily re-check, scoped to the user's brands)

from django.http import FileResponse  # noqa: E402 - this section's own imports

from apps.exclusions.batch import batch_chunks_visible_to, batch_runs_visible_to  # noqa: E402
from apps.exclusions.marketing import (  # noqa: E402
    marketing_export,
    marketing_exports_visible_to,
    marketing_removals_visible_to,
)
from apps.exclusions.models import BatchChunk, BatchRun, MarketingExport, MarketingRemoval  # noqa: E402


class BatchChunkInline(admin.TabularInline):
    model = BatchChunk
    fields = [
        "index",
        "status",
        "first_player_id",
        "last_player_id",
        "players",
        "hits",
        "attempts",
        "latency_ms",
        "error",
        "finished_at",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(BatchRun)
class BatchRunAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    """Daily re-check runs: progress (chunks done of total), hits and errors; chunks inline."""

    scoping_selector = staticmethod(batch_runs_visible_to)
    list_display = [
        "id",
        "brand",
        "register",
        "status",
        "progress",
        "players_total",
        "hits",
        "errors",
        "started_at",
        "finished_at",
    ]
    list_filter = ["status", "register", ("brand", BrandListFilter)]
    list_select_related = ["brand"]
    ordering = ["-started_at"]
    inlines = [BatchChunkInline]

    @admin.display(description="chunks done")
    def progress(self, run: BatchRun) -> str:
        return f"{run.chunks_done} / {run.chunks_total}"


@admin.register(BatchChunk)
class BatchChunkAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    """Every chunk of every run: filter the pending or failed ones."""

    scoping_selector = staticmethod(batch_chunks_visible_to)
    list_display = [
        "run",
        "index",
        "status",
        "first_player_id",
        "last_player_id",
        "players",
        "hits",
        "attempts",
        "latency_ms",
        "error",
        "finished_at",
    ]
    list_filter = ["status", "run__register"]
    list_select_related = ["run", "run__brand"]
    ordering = ["-run_id", "index"]


# --- marketing exports --------------------------------------------------------------------------


class MarketingExportForm(forms.ModelForm):
    fmt = forms.ChoiceField(label="Format", choices=[("csv", "CSV"), ("json", "JSON")], initial="csv")

    class Meta:
        model = MarketingExport
        fields = ["brand", "purpose"]


EXPORT_FIELDS = ["brand", "purpose", "requested_by", "candidates", "included", "removed", "created_at"]


@admin.register(MarketingExport)
class MarketingExportAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    """Marketing lists produced, with how many players were removed; "Add" makes a new one
    and downloads it (exclusions.export_marketing; exclusions.marketing_export decides)."""

    scoping_selector = staticmethod(marketing_exports_visible_to)
    form = MarketingExportForm
    fields = ["brand", "purpose", "fmt"]
    list_display = [
        "id",
        "brand",
        "purpose",
        "requested_by",
        "candidates",
        "included",
        "removed",
        "created_at",
    ]
    list_filter = [("brand", BrandListFilter)]
    list_select_related = ["brand", "requested_by"]
    ordering = ["-created_at"]

    def has_add_permission(self, request, obj=None):
        return request.user.has_perm("exclusions.export_marketing")

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["brand", "purpose", "fmt"]
        return [*EXPORT_FIELDS, "removals_link"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.get_fields(request, obj)

    @admin.display(description="removed players")
    def removals_link(self, export: MarketingExport) -> str:
        url = reverse("admin:exclusions_marketingremoval_changelist")
        return format_html(
            '<a href="{}?export__id__exact={}">{} removed, with the reasons</a>',
            url,
            export.pk,
            export.removed,
        )

    # Asked before the form (GET) as well, so that nothing typed is lost to the detour.
    @reauth_required(
        "export personal data", when=lambda self, request, *args, **kwargs: self.has_add_permission(request)
    )
    def add_view(self, request, form_url="", extra_context=None):
        if request.method == "POST" and self.has_add_permission(request):
            form = self.get_form(request)(request.POST)
            if form.is_valid():
                try:
                    produced = marketing_export(
                        actor=request.user,
                        brand=form.cleaned_data["brand"],
                        purpose=form.cleaned_data["purpose"],
                        fmt=form.cleaned_data["fmt"],
                    )
                except DomainError as exc:
                    self.message_user(request, exc.message, messages.ERROR)
                    return HttpResponseRedirect(request.get_full_path())
                return FileResponse(
                    produced.file,
                    as_attachment=True,
                    filename=produced.filename,
                    content_type=produced.content_type,
                )
        return super().add_view(request, form_url, extra_context)


@admin.register(MarketingRemoval)
class MarketingRemovalAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    """Who each marketing export left out, and why."""

    scoping_selector = staticmethod(marketing_removals_visible_to)
    list_display = ["export", "player", "reason"]
    list_filter = ["reason"]
    list_select_related = ["export", "export__brand", "player"]
    ordering = ["-export_id", "player_id"]
