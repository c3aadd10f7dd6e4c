from rest_framework.routers import SimpleRouter

from apps.responsible_gaming.api.views import StaffResponsibleGamingViewSet

router = SimpleRouter()
router.register("responsible-gaming/players", StaffResponsibleGamingViewSet, basename="staff-rg")
urlpatterns = router.urls
