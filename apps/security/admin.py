"""The security app in the staff UI.

IP lists: brand admins keep their brands' blocklists; platform staff
(security.manage_global_ip_rules) the global blocklist and the provider allowlists. Every
write goes through services.py (permission, validation, audit, cache version).

The access audit: read-only for everyone, superusers included; searchable by auditors."""

import contextlib
import ipaddress

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.core.exceptions import DomainError
from apps.security import ipfilter, services
from apps.security.models import AuditRecord, IpRule
from apps.security.selectors import audit_records_visible_to, ip_rules_visible_to
from apps.tenants.admin_scoping import BrandListFilter, ReadOnlyAdminMixin, ScopedAdminMixin
from apps.timeline.admin import CappedCountPaginator


class IpRuleForm(forms.ModelForm):
    class Meta:
        model = IpRule
        fields = ["cidr", "kind", "scope", "brand", "reason", "expires_at"]

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        if "scope" in self.fields and user is not None and not user.has_perm(services.GLOBAL_PERMISSION):
            # Without the platform permission, only brand entries can be made.
            self.fields["scope"].choices = [(IpRule.Scope.BRAND, IpRule.Scope.BRAND.label)]
            self.fields["kind"].choices = [(IpRule.Kind.BLOCK, IpRule.Kind.BLOCK.label)]

    def clean_cidr(self):
        try:
            return ipfilter.cidr_normalise(self.cleaned_data["cidr"])
        except ipfilter.InvalidNetwork as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean(self):
        data = super().clean()
        if self.instance.pk or self.errors:
            return data
        try:
            services.ip_rule_validate(
                cidr=data.get("cidr", ""),
                kind=data.get("kind", ""),
                scope=data.get("scope", ""),
                brand=data.get("brand"),
                reason=data.get("reason", ""),
                expires_at=data.get("expires_at"),
            )
        except DomainError as exc:
            field = exc.details.get("field")
            self.add_error(field if field in self.fields else None, exc.message)
            return data
        if not services.ip_rule_may_manage(
            self.user,
            action="add",
            scope=data["scope"],
            brand_id=data["brand"].pk if data.get("brand") else None,
        ):
            raise forms.ValidationError("You may not add entries of this scope or brand.")
        return data

    def validate_constraints(self, exclude=None):
        # The services check these (with clearer messages); Django would name the constraint.
        return


@admin.register(IpRule)
class IpRuleAdmin(ScopedAdminMixin, admin.ModelAdmin):
    scoping_selector = staticmethod(ip_rules_visible_to)
    form = IpRuleForm
    list_display = [
        "cidr",
        "kind",
        "scope",
        "brand",
        "reason",
        "expires_at",
        "in_force",
        "created_by",
        "created_at",
    ]
    list_filter = ["kind", "scope", ("brand", BrandListFilter)]
    search_fields = ["cidr", "reason"]
    readonly_fields = ["created_by", "created_at"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)

        class WithUser(form):
            def __init__(self, *args, **kw):
                super().__init__(*args, user=request.user, **kw)

        return WithUser

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            return ["cidr", "kind", "scope", "brand", *self.readonly_fields]
        return self.readonly_fields

    @admin.display(boolean=True, description="In force")
    def in_force(self, obj):
        from django.utils import timezone

        return obj.expires_at is None or obj.expires_at > timezone.now()

    def _may(self, request, action: str, obj) -> bool:
        if obj is None:
            return request.user.has_perm(f"security.{action}_iprule")
        return services.ip_rule_may_manage(
            request.user, action=action, scope=obj.scope, brand_id=obj.brand_id
        )

    def has_change_permission(self, request, obj=None):
        return self._may(request, "change", obj)

    def has_delete_permission(self, request, obj=None):
        return self._may(request, "delete", obj)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            if change:
                services.ip_rule_update(
                    actor=request.user, rule=obj, reason=data["reason"], expires_at=data.get("expires_at")
                )
                return
            saved = services.ip_rule_create(
                actor=request.user,
                cidr=data["cidr"],
                kind=data["kind"],
                scope=data["scope"],
                brand=data.get("brand"),
                reason=data["reason"],
                expires_at=data.get("expires_at"),
            )
            obj.pk = saved.pk
        except DomainError as exc:
            # The form checked the same; a race (a duplicate added meanwhile) lands here.
            self.message_user(request, exc.message, level=messages.ERROR)
            raise PermissionDenied(exc.message) from exc

    def delete_model(self, request, obj):
        services.ip_rule_delete(actor=request.user, rule=obj)

    def delete_queryset(self, request, queryset):
        for rule in queryset:
            try:
                services.ip_rule_delete(actor=request.user, rule=rule)
            except DomainError as exc:
                self.message_user(request, f"{rule}: {exc.message}", level=messages.ERROR)


@admin.register(AuditRecord)
class AuditRecordAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    """Logins, personal-data reads, exports and permission changes (apps/security/audit.py).

    Nobody adds, changes or deletes a record here (ReadOnlyAdminMixin: superusers too; the
    database refuses it anyway). A large table is never counted or sorted whole: a capped
    count (CappedCountPaginator), no count of the unfiltered table, newest first by the
    primary key, no sorting by column. The search box takes an exact value and matches it,
    each through its own index, against the actor (a staff username, player:ID), the
    player id, the client address and the correlation id."""

    scoping_selector = staticmethod(audit_records_visible_to)
    list_display = [
        "occurred_at",
        "kind",
        "actor_type",
        "actor_label",
        "ip",
        "brand_id",
        "player_id",
        "object_display",
        "correlation_id",
    ]
    list_filter = ["kind", "actor_type", ("occurred_at", admin.DateFieldListFilter)]
    # Its first level lists the years present: one pass over the occurred_at index of the
    # records in view (a month's days, once a year and month are chosen, read only those).
    date_hierarchy = "occurred_at"
    search_fields = ["actor_label"]  # shows the box; get_search_results decides the matching
    search_help_text = "An exact staff username, player:ID or player id, IP address or correlation id."
    fields = [
        "occurred_at",
        "kind",
        "actor_type",
        "actor_label",
        "actor",
        "ip",
        "correlation_id",
        "operator_id",
        "brand_id",
        "player_id",
        "object_type",
        "object_id",
        "detail",
    ]
    readonly_fields = fields
    ordering = ["-id"]
    show_full_result_count = False
    paginator = CappedCountPaginator
    sortable_by: list[str] = []
    actions = None

    @admin.display(description="object")
    def object_display(self, obj):
        return f"{obj.object_type} {obj.object_id}".strip() or "—"

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        match = Q(actor_label=term[:150]) | Q(correlation_id=term[:64])
        if term.isascii() and term.isdigit() and len(term) <= 18:
            match |= Q(player_id=int(term))
        with contextlib.suppress(ValueError):  # not an address: nothing to match
            match |= Q(ip=str(ipaddress.ip_address(term)))
        return queryset.filter(match), False


# django-otp's device pages would show a TOTP key (on "add") and the recovery codes (as
# inlines); nobody needs them: enrolment is the staff member's own page, and a lost device
# is handled by the reset action on the staff user (apps/tenants/admin.py).
for _model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
