"""Admin of the brands' PaymentIQ integrations. Credentials are write-only: no page shows one.

The password is shown as "set" or "not set"; the bearer token as the start of its SHA-256
(PaymentIQ's side can compare it with the token it holds). A generated token is shown
once, on a page that is not cached, right after saving; it cannot be shown again.
"""

from django import forms
from django.contrib import admin
from django.http import HttpResponse
from django.utils.html import format_html

from apps.payments.providers.paymentiq.auth import allowlist_normalise
from apps.payments.providers.paymentiq.models import PaymentIQIntegration
from apps.payments.providers.paymentiq.selectors import paymentiq_integrations_visible_to
from apps.payments.providers.paymentiq.services import (
    MIN_PASSWORD_LENGTH,
    IntegrationRefused,
    paymentiq_integration_configure,
)
from apps.tenants.admin_scoping import BrandListFilter, ScopedAdminMixin


class PaymentIQIntegrationForm(forms.ModelForm):
    new_password = forms.CharField(
        label="New Basic password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=f"Set or replace the password (at least {MIN_PASSWORD_LENGTH} characters); "
        "leave empty to keep it. Never shown again.",
    )
    generate_token = forms.BooleanField(
        required=False,
        label="Generate a new bearer token",
        help_text="Replaces the current token; the new one is shown once, after saving.",
    )
    allowlist = forms.CharField(
        label="IP allowlist",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One IP address or CIDR network per line. Empty refuses every caller (fail closed).",
    )

    class Meta:
        model = PaymentIQIntegration
        fields = ["brand", "active", "auth_scheme", "basic_username"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["allowlist"].initial = "\n".join(self.instance.ip_allowlist or [])

    def clean_allowlist(self):
        lines = (self.cleaned_data.get("allowlist") or "").splitlines()
        try:
            return allowlist_normalise(lines)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean_new_password(self):
        password = self.cleaned_data.get("new_password") or ""
        if password and len(password) < MIN_PASSWORD_LENGTH:
            raise forms.ValidationError(f"At least {MIN_PASSWORD_LENGTH} characters.")
        return password

    def clean(self):
        cleaned = super().clean()
        scheme = cleaned.get("auth_scheme")
        if cleaned.get("active"):
            if scheme == PaymentIQIntegration.AuthScheme.BASIC and not (
                cleaned.get("basic_username")
                and (cleaned.get("new_password") or self.instance.basic_password_hash)
            ):
                raise forms.ValidationError("An active Basic integration needs a username and a password.")
            if scheme == PaymentIQIntegration.AuthScheme.BEARER and not (
                cleaned.get("generate_token") or self.instance.bearer_token_sha256
            ):
                raise forms.ValidationError("An active Bearer integration needs a token: generate one.")
        return cleaned


@admin.register(PaymentIQIntegration)
class PaymentIQIntegrationAdmin(ScopedAdminMixin, admin.ModelAdmin):
    scoping_selector = staticmethod(paymentiq_integrations_visible_to)
    form = PaymentIQIntegrationForm
    list_display = ["brand", "active", "auth_scheme", "basic_username", "credential_status", "updated_at"]
    list_filter = [("brand", BrandListFilter), "active", "auth_scheme"]
    list_select_related = ["brand"]
    ordering = ["brand__name"]

    def get_fields(self, request, obj=None):
        return [
            "brand",
            "active",
            "auth_scheme",
            "basic_username",
            "password_status",
            "new_password",
            "token_fingerprint",
            "generate_token",
            "allowlist",
        ]

    def get_readonly_fields(self, request, obj=None):
        shown = ["password_status", "token_fingerprint"]
        return ["brand", *shown] if obj is not None else shown

    def has_delete_permission(self, request, obj=None):
        return False  # switch it off instead; its audit trail stays attached

    @admin.display(description="Basic password")
    def password_status(self, obj):
        return "set" if obj is not None and obj.basic_password_hash else "not set"

    @admin.display(description="Bearer token")
    def token_fingerprint(self, obj):
        if obj is None or not obj.bearer_token_sha256:
            return "not set"
        return f"set (SHA-256 begins {obj.bearer_token_sha256[:12]})"

    @admin.display(description="Credentials")
    def credential_status(self, obj):
        return "set" if obj.has_credentials else "missing"

    def save_model(self, request, obj, form, change):
        """Through the service, the one door that changes an integration (checked, audited)."""
        data = form.cleaned_data
        try:
            saved, token = paymentiq_integration_configure(
                brand=obj.brand,
                actor=request.user,
                auth_scheme=obj.auth_scheme,
                basic_username=obj.basic_username if obj.basic_username else None,
                basic_password=data.get("new_password") or None,
                generate_token=bool(data.get("generate_token")),
                ip_allowlist=data.get("allowlist") or [],
                active=obj.active,
            )
        except IntegrationRefused as exc:  # the form checked the same; a race got here first
            self.message_user(request, exc.message, level="error")
            return
        obj.pk = saved.pk
        request._paymentiq_new_token = token

    def _token_page(self, request, obj) -> HttpResponse | None:
        token = getattr(request, "_paymentiq_new_token", None)
        if not token:
            return None
        response = HttpResponse(
            format_html(
                "<!doctype html><title>PaymentIQ bearer token</title>"
                "<h1>Bearer token of {}</h1><p>Give this token to PaymentIQ now. It is not stored and "
                "cannot be shown again.</p><pre>{}</pre><p><a href='../'>Back to the integration</a></p>",
                obj.brand,
                token,
            )
        )
        response["Cache-Control"] = "no-store"
        return response

    def response_add(self, request, obj, post_url_continue=None):
        return self._token_page(request, obj) or super().response_add(request, obj, post_url_continue)

    def response_change(self, request, obj):
        return self._token_page(request, obj) or super().response_change(request, obj)
