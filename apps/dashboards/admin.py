"""The live pages in the admin: the operations dashboard, the alerts feed, and the catch-up
endpoint every live page (the payment review queue too) calls after a reconnect.

`Dashboard` has no table; its admin only routes these views, so the admin's index shows
"Live dashboards" to whoever holds `dashboards.view_dashboard`.
"""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.template.response import TemplateResponse
from django.urls import path

from apps.core.models import Currency
from apps.dashboards import selectors
from apps.dashboards.models import Dashboard
from apps.dashboards.streams import ALERTS, OPS
from apps.tenants.selectors import brands_visible_to

ALERTS_SHOWN = 50


def _int_param(request, name: str, default: int | None = None) -> int | None:
    raw = request.GET.get(name, "")
    if raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()):
        raise ValueError(name)
    return int(raw)


@admin.register(Dashboard)
class DashboardAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("", view(self.changelist_view), name="dashboards_dashboard_changelist"),
            path("alerts/", view(self.alerts_view), name="dashboards_dashboard_alerts"),
            path("catchup/", view(self.catchup_view), name="dashboards_dashboard_catchup"),
        ]

    def _context(self, request, title: str) -> dict:
        return {
            **self.admin_site.each_context(request),
            "title": title,
            "subtitle": None,
            "opts": self.opts,
            "has_view_permission": True,
        }

    def changelist_view(self, request, extra_context=None):
        """The operations dashboard: one card per brand (or ?brand=<id>), live."""
        if not selectors.stream_allowed(request.user, OPS):
            raise PermissionDenied
        try:
            brand_id = _int_param(request, "brand")
        except ValueError:
            brand_id = None
        brands = brands_visible_to(request.user).select_related("default_currency").order_by("name")
        if brand_id is not None:
            brands = brands.filter(pk=brand_id)
        context = {
            **self._context(request, "Operations, live"),
            "brands": [{"id": b.pk, "name": str(b), "currency": b.default_currency_id} for b in brands],
            "brand_filter": brand_id,
            "all_brands": brands_visible_to(request.user).order_by("name"),
            "exponents": dict(Currency.objects.values_list("code", "exponent")),
        }
        return TemplateResponse(request, "admin/dashboards/ops.html", context)

    def alerts_view(self, request):
        """The alerts feed of the user's brands: the latest, then live."""
        if not selectors.stream_allowed(request.user, ALERTS):
            raise PermissionDenied
        cursor = selectors.live_cursor()
        context = {
            **self._context(request, "Alerts, live"),
            "initial": selectors.alerts_latest(request.user, limit=ALERTS_SHOWN),
            "cursor": cursor,
            "brand_names": {b.pk: str(b) for b in brands_visible_to(request.user)},
        }
        return TemplateResponse(request, "admin/dashboards/alerts.html", context)

    def catchup_view(self, request):
        """GET ?stream=queue|alerts&after=<event id>[&overlap=<seconds>][&brand=<id>]: JSON of
        the stream's messages after that event, in id order (`more`: ask again from `last_id`)."""
        try:
            after = _int_param(request, "after", 0)
            overlap = min(_int_param(request, "overlap", 0), 60)
            brand_id = _int_param(request, "brand")
        except ValueError as exc:
            return JsonResponse(
                {"error": {"code": "bad_parameter", "message": f"{exc} must be a number"}}, status=400
            )
        try:
            result = selectors.catchup(
                request.user,
                stream=request.GET.get("stream", ""),
                after=after,
                overlap_seconds=overlap,
                brand_id=brand_id,
            )
        except selectors.NotAllowed:
            return JsonResponse({"error": {"code": "forbidden", "message": "Not your stream."}}, status=403)
        return JsonResponse(result)
