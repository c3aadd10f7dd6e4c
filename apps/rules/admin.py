"""BeAware in the staff UI: compliance officers write rules, try them on the past, switch
them on; reviewers work the tasks rules open and clear the markers they set.

Every write goes through services.py (permission per brand, audited, versioned). A rule's
text is edited on its page: saving a change of triggers, condition, actions or cooldown
makes a new version, and the versions, hits and backtests of the rule are listed below.
"""

import json

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from apps.core.exceptions import DomainError
from apps.rules import services
from apps.rules.actions import actions_validate
from apps.rules.catalogue import TRIGGER_TYPES
from apps.rules.dsl import compile_condition
from apps.rules.models import BacktestRun, Message, ReviewTask, RiskMarker, Rule, RuleHit, RuleVersion
from apps.rules.selectors import (
    backtests_visible_to,
    messages_visible_to,
    review_tasks_visible_to,
    risk_markers_visible_to,
    rule_hits_visible_to,
    rule_versions_visible_to,
    rules_visible_to,
)
from apps.tenants.admin_scoping import BrandListFilter, ReadOnlyAdminMixin, ScopedAdminMixin

VERSION_FIELDS = ("triggers", "condition", "actions", "cooldown_seconds")
EXAMPLE_ACTIONS = '[{"type": "flag", "marker": "deposit_velocity", "level": "high"}]'


def _player_link(player_id):
    url = reverse("admin:players_player_change", args=[player_id])
    return format_html('<a href="{}">#{}</a>', url, player_id)


class PrettyJSONField(forms.JSONField):
    """Shown indented, one action a block, so an officer can read and edit it."""

    def prepare_value(self, value):
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, ensure_ascii=False, indent=2)


class RuleForm(forms.ModelForm):
    triggers = forms.MultipleChoiceField(
        choices=[(t, t) for t in sorted(TRIGGER_TYPES)],
        widget=forms.CheckboxSelectMultiple,
        help_text="The events that run the rule.",
    )
    condition = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "cols": 90, "spellcheck": "false"}),
        help_text=(
            "e.g. <code>sum(deposit, 24h) &gt; 2000 and count(deposit_failed, 1h) &gt;= 3</code>."
            " Fields: event.amount (major units), event.method, event.hour, ... Aggregates: sum, count,"
            " avg, min, max, median, night_count (kind, window); net_loss(window). Kinds: deposit,"
            " deposit_failed, withdrawal, bet, win, rollback, win_rollback, login, login_refused."
        ),
    )
    actions = PrettyJSONField(
        widget=forms.Textarea(attrs={"rows": 12, "cols": 90, "spellcheck": "false"}),
        help_text=(
            f"A JSON list, e.g. <code>{EXAMPLE_ACTIONS}</code>. Types: flag, review_task, limit,"
            " timeout, suspend, message, alert."
        ),
    )
    cooldown_seconds = forms.IntegerField(
        min_value=services.MIN_COOLDOWN_SECONDS,
        max_value=services.MAX_COOLDOWN_SECONDS,
        initial=86400,
        help_text="After firing for a player, quiet for them this many seconds.",
    )
    note = forms.CharField(
        required=False, max_length=255, help_text="Why this change (kept with the version)."
    )

    class Meta:
        model = Rule
        fields = ["brand", "name", "description", "priority", "stop_processing"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        version = self.instance.current_version if self.instance.pk else None
        if version is not None:
            for name in VERSION_FIELDS:
                self.fields[name].initial = getattr(version, name)

    def clean_condition(self):
        condition = self.cleaned_data["condition"]
        try:
            compile_condition(condition)
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from exc
        return condition

    def clean_actions(self):
        try:
            return actions_validate(self.cleaned_data["actions"])
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from exc

    def version_changed(self) -> bool:
        version = self.instance.current_version if self.instance.pk else None
        if version is None:
            return True
        return any(
            (sorted(self.cleaned_data[n]) if n == "triggers" else self.cleaned_data[n]) != getattr(version, n)
            for n in VERSION_FIELDS
        )


class VersionInline(admin.TabularInline):
    model = RuleVersion
    fields = [
        "number",
        "created_at",
        "created_by",
        "note",
        "triggers",
        "condition",
        "actions",
        "cooldown_seconds",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-number"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Rule)
class RuleAdmin(ScopedAdminMixin, admin.ModelAdmin):
    scoping_selector = staticmethod(rules_visible_to)
    form = RuleForm
    change_form_template = "admin/rules/rule/change_form.html"
    list_display = ["name", "brand", "enabled", "priority", "version_number", "trigger_list", "updated_at"]
    list_filter = [("brand", BrandListFilter), "enabled"]
    list_select_related = ["brand", "current_version"]
    search_fields = ["name"]
    readonly_fields = [
        "enabled",
        "version_number",
        "backtests",
        "shown_triggers",
        "shown_condition",
        "shown_actions",
        "shown_cooldown",
    ]
    inlines = [VersionInline]
    actions = ["enable", "disable"]

    def get_fieldsets(self, request, obj=None):
        rule = ["brand", "name", "description", "priority", "stop_processing"]
        if obj is not None:
            rule = ["enabled", "version_number", *rule]
        editable = self.has_change_permission(request, obj) if obj else self.has_add_permission(request)
        says = (
            [*VERSION_FIELDS, "note"]
            if editable
            else ["shown_triggers", "shown_condition", "shown_actions", "shown_cooldown"]
        )
        sections = [
            (None, {"fields": rule}),
            ("What it says (a change makes a new version)", {"fields": says}),
        ]
        if obj is not None:
            sections.append(("Backtests", {"fields": ["backtests"]}))
        return sections

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "brand"] if obj is not None else self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return False  # switch it off: its versions and hits are the record of what it did

    def has_enable_permission(self, request):
        return request.user.has_perm("rules.enable_rule")

    @admin.display(description="Version")
    def version_number(self, obj):
        return f"v{obj.current_version.number}" if obj.current_version_id else "—"

    @admin.display(description="Triggers")
    def shown_triggers(self, obj):
        return self.trigger_list(obj)

    @admin.display(description="Condition")
    def shown_condition(self, obj):
        return (
            format_html("<code>{}</code>", obj.current_version.condition) if obj.current_version_id else "—"
        )

    @admin.display(description="Actions")
    def shown_actions(self, obj):
        if not obj.current_version_id:
            return "—"
        return format_html_join("", "<div><code>{}</code></div>", ((a,) for a in obj.current_version.actions))

    @admin.display(description="Cooldown (seconds)")
    def shown_cooldown(self, obj):
        return obj.current_version.cooldown_seconds if obj.current_version_id else "—"

    @admin.display(description="Triggers")
    def trigger_list(self, obj):
        return ", ".join(obj.current_version.triggers) if obj.current_version_id else "—"

    @admin.display(description="Backtests")
    def backtests(self, obj):
        runs = obj.backtests.select_related("version").order_by("-created_at")[:10]
        if not runs:
            return "None yet: use “Backtest” below before switching the rule on."
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>v{}</td><td>{} days</td>'
            "<td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    reverse("admin:rules_backtestrun_change", args=[run.pk]),
                    run.created_at.strftime("%Y-%m-%d %H:%M"),
                    run.version.number,
                    run.days,
                    run.status,
                    run.hits,
                    run.players_hit,
                )
                for run in runs
            ),
        )
        head = (
            "<tr><th>When</th><th>Version</th><th>Period</th><th>Status</th>"
            "<th>Hits</th><th>Players</th></tr>"
        )
        return format_html("<table>{}{}</table>", format_html(head), rows)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            if not change:
                saved = services.rule_create(
                    actor=request.user,
                    brand=obj.brand,
                    name=obj.name,
                    description=obj.description,
                    priority=obj.priority,
                    stop_processing=obj.stop_processing,
                    note=data.get("note", ""),
                    **{n: data[n] for n in VERSION_FIELDS},
                )
                obj.pk = saved.pk
                return
            services.rule_settings_change(
                actor=request.user,
                rule=obj,
                name=obj.name,
                description=obj.description,
                priority=obj.priority,
                stop_processing=obj.stop_processing,
            )
            if form.version_changed():
                services.rule_version_add(
                    actor=request.user,
                    rule=obj,
                    note=data.get("note", ""),
                    **{n: data[n] for n in VERSION_FIELDS},
                )
        except DomainError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)

    def _set_enabled(self, request, queryset, enabled: bool):
        done = 0
        for rule in queryset:
            try:
                services.rule_enabled_set(actor=request.user, rule=rule, enabled=enabled)
                done += 1
            except DomainError as exc:
                self.message_user(request, f"{rule}: {exc.message}", level=messages.ERROR)
        self.message_user(request, f"{done} rule(s) {'enabled' if enabled else 'disabled'}.")

    @admin.action(description="Enable selected rules", permissions=["enable"])
    def enable(self, request, queryset):
        self._set_enabled(request, queryset, True)

    @admin.action(description="Disable selected rules", permissions=["enable"])
    def disable(self, request, queryset):
        self._set_enabled(request, queryset, False)

    def get_urls(self):
        return [
            path(
                "<int:rule_id>/backtest/",
                self.admin_site.admin_view(self.backtest_view),
                name="rules_rule_backtest",
            ),
            *super().get_urls(),
        ]

    def backtest_view(self, request, rule_id: int):
        """POST days=N: queue a backtest of the rule's current version."""
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:rules_rule_change", args=[rule_id]))
        if not request.user.has_perm("rules.run_backtest"):
            raise PermissionDenied
        rule = get_object_or_404(self.get_queryset(request), pk=rule_id)
        try:
            days = int(request.POST.get("days", ""))
        except ValueError:
            days = 0
        try:
            run = services.backtest_request(actor=request.user, rule=rule, days=days)
        except DomainError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)
            return HttpResponseRedirect(reverse("admin:rules_rule_change", args=[rule_id]))
        self.message_user(request, f"Backtest over {days} days queued.")
        return HttpResponseRedirect(reverse("admin:rules_backtestrun_change", args=[run.pk]))

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        context["can_backtest"] = obj is not None and request.user.has_perm("rules.run_backtest")
        context["backtest_max_days"] = settings.RULES_BACKTEST_MAX_DAYS
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)


@admin.register(RuleVersion)
class RuleVersionAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    scoping_selector = staticmethod(rule_versions_visible_to)
    list_display = ["rule", "number", "created_at", "created_by", "note"]
    list_select_related = ["rule"]
    search_fields = ["rule__name"]


@admin.register(RuleHit)
class RuleHitAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    scoping_selector = staticmethod(rule_hits_visible_to)
    list_display = ["fired_at", "rule", "version", "brand", "player_link", "event_id", "outcome_summary"]
    list_filter = [("brand", BrandListFilter), "rule"]
    list_select_related = ["rule", "version", "brand"]
    search_fields = ["=player__id", "rule__name"]
    show_full_result_count = False
    fields = ["fired_at", "rule", "version", "brand", "player_link", "event", "values_table", "outcome_table"]

    @admin.display(description="Player", ordering="player_id")
    def player_link(self, obj):
        return _player_link(obj.player_id)

    @admin.display(description="Actions")
    def outcome_summary(self, obj):
        return ", ".join(f"{o['type']}: {o['result']}" for o in obj.outcomes)

    @admin.display(description="Values read")
    def values_table(self, obj):
        return format_html_join("", "<div><code>{}</code> = {}</div>", sorted(obj.values.items())) or "—"

    @admin.display(description="What it did")
    def outcome_table(self, obj):
        return format_html_join(
            "", "<div>{}: <b>{}</b> {}</div>", ((o["type"], o["result"], o["detail"]) for o in obj.outcomes)
        )


class RiskMarkerForm(forms.ModelForm):
    clear_reason = forms.CharField(
        required=True, max_length=255, help_text="Why the marker no longer applies (kept in the audit log)."
    )

    class Meta:
        model = RiskMarker
        fields = []


@admin.register(RiskMarker)
class RiskMarkerAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Markers are set by rules and cleared, with a reason, by staff; nothing else."""

    scoping_selector = staticmethod(risk_markers_visible_to)
    form = RiskMarkerForm
    list_display = ["created_at", "brand", "player_link", "marker", "level", "active", "cleared_by"]
    list_filter = [("brand", BrandListFilter), "level", "marker"]
    list_select_related = ["brand"]
    search_fields = ["=player__id", "marker"]
    readonly_fields = [
        "created_at",
        "brand",
        "player_link",
        "marker",
        "level",
        "hit",
        "cleared_at",
        "cleared_by",
    ]

    def get_fields(self, request, obj=None):
        fields = list(self.readonly_fields)
        if obj is not None and obj.cleared_at is None and self.has_change_permission(request, obj):
            fields.append("clear_reason")
        else:
            fields.append("clear_reason_shown")
        return fields

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "clear_reason_shown"]

    @admin.display(description="Reason cleared")
    def clear_reason_shown(self, obj):
        return obj.clear_reason or "—"

    @admin.display(description="Player", ordering="player_id")
    def player_link(self, obj):
        return _player_link(obj.player_id)

    @admin.display(boolean=True, description="Active")
    def active(self, obj):
        return obj.cleared_at is None

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        try:
            services.risk_marker_clear(
                actor=request.user, marker=obj, reason=form.cleaned_data["clear_reason"]
            )
        except DomainError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)


class ReviewTaskForm(forms.ModelForm):
    resolution = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), help_text="What you found and did; saving closes the task."
    )

    class Meta:
        model = ReviewTask
        fields = []


@admin.register(ReviewTask)
class ReviewTaskAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """The compliance queues rules fill: take a task, look at the player, close it."""

    scoping_selector = staticmethod(review_tasks_visible_to)
    form = ReviewTaskForm
    list_display = ["created_at", "brand", "queue", "title", "player_link", "status", "assigned_to"]
    list_filter = [("brand", BrandListFilter), "queue", "status"]
    list_select_related = ["brand", "assigned_to"]
    search_fields = ["=player__id", "title"]
    readonly_fields = ["created_at", "brand", "queue", "title", "player_link", "status", "assigned_to", "hit"]
    actions = ["take"]

    def get_fields(self, request, obj=None):
        fields = list(self.readonly_fields)
        if (
            obj is not None
            and obj.status == ReviewTask.Status.OPEN
            and self.has_change_permission(request, obj)
        ):
            fields.append("resolution")
        else:
            fields.append("resolution_shown")
        return fields

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "resolution_shown"]

    @admin.display(description="Resolution")
    def resolution_shown(self, obj):
        return obj.resolution or "—"

    @admin.display(description="Player", ordering="player_id")
    def player_link(self, obj):
        return _player_link(obj.player_id)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm("rules.work_review_task")

    def has_work_permission(self, request):
        return request.user.has_perm("rules.work_review_task")

    @admin.action(description="Take selected tasks", permissions=["work"])
    def take(self, request, queryset):
        taken = 0
        for task in queryset:
            try:
                services.review_task_take(actor=request.user, task=task)
                taken += 1
            except DomainError as exc:
                self.message_user(request, f"{task}: {exc.message}", level=messages.WARNING)
        self.message_user(request, f"{taken} task(s) taken.")

    def save_model(self, request, obj, form, change):
        try:
            services.review_task_close(
                actor=request.user, task=obj, resolution=form.cleaned_data["resolution"]
            )
        except DomainError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)


@admin.register(Message)
class MessageAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    scoping_selector = staticmethod(messages_visible_to)
    list_display = ["created_at", "brand", "player_link", "channel", "subject", "status", "sent_at"]
    list_filter = [("brand", BrandListFilter), "channel", "status"]
    list_select_related = ["brand"]
    search_fields = ["=player__id", "subject"]

    @admin.display(description="Player", ordering="player_id")
    def player_link(self, obj):
        return _player_link(obj.player_id)


@admin.register(BacktestRun)
class BacktestRunAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    scoping_selector = staticmethod(backtests_visible_to)
    list_display = ["created_at", "rule", "version", "days", "status", "hits", "players_hit", "duration_ms"]
    list_filter = ["status"]
    list_select_related = ["rule", "version"]
    fields = [
        "rule",
        "version",
        "condition",
        "period_start",
        "period_end",
        "status",
        "requested_by",
        "events_scanned",
        "events_triggering",
        "hits",
        "players_hit",
        "duration_ms",
        "players_table",
        "per_day_table",
        "error",
    ]
    readonly_fields = fields

    @admin.display(description="Condition")
    def condition(self, obj):
        return format_html("<code>{}</code>", obj.version.condition)

    @admin.display(description="Players it would have hit (most first)")
    def players_table(self, obj):
        rows = (obj.results or {}).get("top_players", [])
        if not rows:
            return "—"
        return format_html_join(
            "", "<div>{} — {} hit(s)</div>", ((_player_link(r["player_id"]), r["hits"]) for r in rows)
        )

    @admin.display(description="Hits per day")
    def per_day_table(self, obj):
        days = (obj.results or {}).get("hits_per_day", {})
        return format_html_join("", "<div>{}: {}</div>", sorted(days.items())) or "—"
