"""Admin of the brands' Hub88 integrations. Keys are write-only: a page never shows one.

Hub88's public key is shown as its fingerprint; the operator's private key as "set" or
"not set", next to its public half (which is what Hub88 needs from us).
"""

from django import forms
from django.contrib import admin
from django.utils.html import format_html

from apps.games.exceptions import IntegrationRefused
from apps.games.providers.hub88 import signing
from apps.games.providers.hub88.models import Hub88Integration
from apps.games.providers.hub88.selectors import hub88_integrations_visible_to
from apps.games.providers.hub88.services import hub88_integration_configure, hub88_operator_public_key
from apps.tenants.admin_scoping import BrandListFilter, ScopedAdminMixin


class WriteOnlyTextarea(forms.Textarea):
    """A textarea that never renders a value, not even the one just submitted with an error."""

    def format_value(self, value):
        return None


class Hub88IntegrationForm(forms.ModelForm):
    new_hub88_public_key = forms.CharField(
        label="Hub88 public key",
        required=False,
        widget=WriteOnlyTextarea(attrs={"rows": 6, "autocomplete": "off"}),
        help_text="Paste the PEM Hub88 gave you to set or replace it; leave empty to keep the current one.",
    )
    new_operator_private_key = forms.CharField(
        label="Operator private key",
        required=False,
        widget=WriteOnlyTextarea(attrs={"rows": 6, "autocomplete": "off"}),
        help_text="Paste a PEM private key to replace ours; leave empty to keep it. Never shown again.",
    )
    generate_operator_key = forms.BooleanField(
        required=False,
        help_text="Make a new operator key pair; give its public key (shown after saving) to Hub88.",
    )

    class Meta:
        model = Hub88Integration
        fields = ["brand", "active"]

    def clean(self):
        cleaned = super().clean()
        public = (cleaned.get("new_hub88_public_key") or "").strip()
        private = (cleaned.get("new_operator_private_key") or "").strip()
        if private and cleaned.get("generate_operator_key"):
            raise forms.ValidationError("Paste an operator key or generate one, not both.")
        try:
            if public:
                cleaned["new_hub88_public_key"] = signing.public_key_normalise(public)
        except signing.InvalidKey as exc:
            self.add_error("new_hub88_public_key", str(exc))
        try:
            if private:
                signing.private_key_check(private)
        except signing.InvalidKey as exc:
            self.add_error("new_operator_private_key", str(exc))
        has_public = bool(public or self.instance.hub88_public_key)
        has_private = bool(
            private or cleaned.get("generate_operator_key") or self.instance.operator_private_key
        )
        if cleaned.get("active") and not (has_public and has_private):
            raise forms.ValidationError("An active integration needs Hub88's public key and an operator key.")
        return cleaned


@admin.register(Hub88Integration)
class Hub88IntegrationAdmin(ScopedAdminMixin, admin.ModelAdmin):
    scoping_selector = staticmethod(hub88_integrations_visible_to)
    form = Hub88IntegrationForm
    list_display = ["brand", "active", "hub88_key_fingerprint", "operator_key_status", "updated_at"]
    list_filter = [("brand", BrandListFilter), "active"]
    list_select_related = ["brand"]
    ordering = ["brand__name"]

    def get_fields(self, request, obj=None):
        return [
            "brand",
            "active",
            "hub88_key_fingerprint",
            "new_hub88_public_key",
            "operator_key_status",
            "operator_public_key",
            "new_operator_private_key",
            "generate_operator_key",
        ]

    def get_readonly_fields(self, request, obj=None):
        shown = ["hub88_key_fingerprint", "operator_key_status", "operator_public_key"]
        return ["brand", *shown] if obj is not None else shown

    def has_delete_permission(self, request, obj=None):
        return False  # switch it off instead; its audit trail stays attached

    @admin.display(description="Hub88 public key")
    def hub88_key_fingerprint(self, obj):
        if obj is None or not obj.hub88_public_key:
            return "not set"
        try:
            return f"SHA-256 {signing.public_key_fingerprint(obj.hub88_public_key)}"
        except signing.InvalidKey:
            return "set, but not a usable key"

    @admin.display(description="Operator private key")
    def operator_key_status(self, obj):
        return "set" if obj is not None and obj.operator_private_key else "not set"

    @admin.display(description="Operator public key (give this to Hub88)")
    def operator_public_key(self, obj):
        if obj is None or not obj.operator_private_key:
            return "-"
        try:
            return format_html("<pre>{}</pre>", hub88_operator_public_key(obj))
        except signing.InvalidKey:
            return "the stored private key is not usable"

    def save_model(self, request, obj, form, change):
        """Through the service, the one door that changes an integration (checked, audited)."""
        data = form.cleaned_data
        try:
            saved = hub88_integration_configure(
                brand=obj.brand,
                actor=request.user,
                hub88_public_key=data.get("new_hub88_public_key") or None,
                operator_private_key=data.get("new_operator_private_key") or None,
                generate_operator_key=bool(data.get("generate_operator_key")),
                active=obj.active,
            )
        except IntegrationRefused as exc:  # the form checked the same; a race got here first
            self.message_user(request, exc.message, level="error")
            return
        obj.pk = saved.pk
