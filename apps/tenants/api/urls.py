from rest_framework.routers import SimpleRouter

from apps.tenants.api.views import BrandViewSet

router = SimpleRouter()
router.register("brands", BrandViewSet, basename="staff-brand")
urlpatterns = router.urls
