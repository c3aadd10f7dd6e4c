"""Brand overrides of the packs (brand admins add versions) and the effective-rules page
(compliance officers see each value and where it came from). Scoped to the user's brands."""

import json

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from apps.compliance import services
from apps.compliance.exceptions import OverrideRefused
from apps.compliance.models import BrandRulesVersion
from apps.compliance.packs import pack_get
from apps.compliance.rules import override_check
from apps.compliance.selectors import rules_of, rules_versions_visible_to
from apps.tenants.admin_scoping import BrandListFilter, ScopedAdminMixin
from apps.tenants.exceptions import AccessDenied
from apps.tenants.selectors import brand_get


class BrandRulesVersionForm(forms.ModelForm):
    overrides = forms.JSONField(
        required=False,
        initial=dict,
        help_text='Rule path → value, e.g. {"stake_caps.casino.max": "4.00"}. The whole set: a rule'
        " left out goes back to the pack. Values may only tighten the pack.",
    )

    class Meta:
        model = BrandRulesVersion
        fields = ["brand", "overrides", "reason"]

    def clean(self):
        data = super().clean()
        brand, overrides = data.get("brand"), data.get("overrides") or {}
        if brand is None:
            return data
        if not isinstance(overrides, dict):
            raise forms.ValidationError({"overrides": "Give a mapping of rule path to value."})
        pack = pack_get(brand.jurisdiction)
        errors = []
        for rule, value in overrides.items():
            try:
                override_check(pack, rule, value)
            except OverrideRefused as exc:
                errors.append(exc.message)
        if errors:
            raise forms.ValidationError({"overrides": errors})
        return data


@admin.register(BrandRulesVersion)
class BrandRulesVersionAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Versions are append-only: "add" saves a new version through the service."""

    scoping_selector = staticmethod(rules_versions_visible_to)
    form = BrandRulesVersionForm
    list_display = ["brand", "version", "overrides_text", "reason", "created_by", "created_at", "effective"]
    list_filter = [("brand", BrandListFilter)]
    list_select_related = ["brand", "created_by"]
    ordering = ["brand", "-version"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="overrides")
    def overrides_text(self, obj):
        return json.dumps(obj.overrides, sort_keys=True)

    @admin.display(description="effective rules")
    def effective(self, obj):
        url = reverse("admin:compliance_effective_rules", args=[obj.brand_id])
        return format_html('<a href="{}">effective rules</a>', url)

    def save_model(self, request, obj, form, change):
        # The form has checked the overrides; the service checks them again with the
        # permission, numbers the version and publishes the event.
        try:
            saved = services.brand_rules_change(
                actor=request.user,
                brand=form.cleaned_data["brand"],
                overrides=form.cleaned_data["overrides"] or {},
                reason=form.cleaned_data["reason"],
            )
        except AccessDenied as exc:
            raise PermissionDenied(exc.message) from exc
        obj.pk, obj.version, obj.created_at = saved.pk, saved.version, saved.created_at

    def get_urls(self):
        return [
            path(
                "effective/<int:brand_id>/",
                self.admin_site.admin_view(self.effective_rules_view),
                name="compliance_effective_rules",
            ),
            *super().get_urls(),
        ]

    def effective_rules_view(self, request, brand_id: int):
        """Every rule of the brand, its value and its source (pack, or a brand override version)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        brand = brand_get(user=request.user, brand_id=brand_id)
        if brand is None:
            raise Http404("No such brand.")
        rules = rules_of(brand)
        context = {
            **self.admin_site.each_context(request),
            "brand": brand,
            "rules": rules,
            "rows": rules.table(),
            "versions": rules_versions_visible_to(request.user).filter(brand=brand).order_by("-version"),
            "opts": self.model._meta,
            "title": f"Effective rules of {brand}",
        }
        return TemplateResponse(request, "admin/compliance/effective_rules.html", context)
