"""Payments API routes, mounted at /api/v1/: the player's under player/, staff's under staff/."""

from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from apps.payments.api import views

router = SimpleRouter()
router.register("staff/payments", views.StaffPaymentViewSet, basename="staff-payment")

urlpatterns = [
    path("player/payments", views.PlayerPaymentListView.as_view(), name="player-payments"),
    path("player/payments/withdrawals", views.WithdrawalView.as_view(), name="player-withdrawal"),
    # At most 18 digits: a longer id would overflow the database's BIGINT (a 500, not a 404).
    re_path(
        r"^player/payments/withdrawals/(?P<payment_id>[0-9]{1,18})/cancel$",
        views.WithdrawalCancelView.as_view(),
        name="player-withdrawal-cancel",
    ),
    path("player/payments/deposits", views.DepositView.as_view(), name="player-deposit"),
    *router.urls,
]
