from rest_framework.routers import SimpleRouter

from apps.players.api.views import StaffPlayerViewSet

router = SimpleRouter()
router.register("players", StaffPlayerViewSet, basename="staff-player")
urlpatterns = router.urls
