"""Exclusions staff API routes, mounted at /api/v1/staff/."""

from rest_framework.routers import SimpleRouter

from apps.exclusions.api.views import StaffMarketingExportViewSet

router = SimpleRouter()
router.register(
    "exclusions/marketing-exports", StaffMarketingExportViewSet, basename="staff-marketing-export"
)
urlpatterns = router.urls
