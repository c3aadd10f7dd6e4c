"""URL routes: the admin is the staff UI; /api/ holds the player and staff APIs."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from apps.core.api import views as core_api_views

admin.site.site_header = "PAM back-office"
admin.site.site_title = "PAM back-office"
admin.site.index_title = "Operations"
admin.site.site_url = None  # staff UI only; there is no public site to link to

urlpatterns = [
    # The second-factor pages (before the admin's catch-all).
    path("admin/second-factor/", include("apps.security.urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its script from ?script: the CSP allows no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/player/", include("apps.players.api.player_urls")),
    path("api/v1/player/", include("apps.responsible_gaming.api.player_urls")),
    path("api/v1/player/", include("apps.rules.api.urls")),
    path("api/v1/staff/", include("apps.tenants.api.urls")),
    path("api/v1/staff/", include("apps.players.api.staff_urls")),
    path("api/v1/staff/", include("apps.responsible_gaming.api.staff_urls")),
    path("api/v1/staff/", include("apps.exclusions.api.urls")),
    path("api/v1/staff/", include("apps.timeline.api.urls")),
    path("api/v1/staff/", include("apps.security.api.urls")),
    path("api/v1/", include("apps.payments.api.urls")),
    path("integrations/hub88/", include("apps.games.providers.hub88.urls")),
    path("integrations/paymentiq/", include("apps.payments.providers.paymentiq.urls")),
    path("healthz", core_api_views.healthz, name="healthz"),
    path("", include("apps.observability.urls")),
]

# JSON, not HTML, for API clients that reach a missing route or a server error.
handler404 = "apps.core.api.views.not_found"
handler500 = "apps.core.api.views.server_error"
