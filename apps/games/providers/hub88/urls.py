"""Hub88's operator wallet API, under the base URL given to Hub88 (integrations/hub88/)."""

from django.urls import path

from apps.games.providers.hub88 import views

app_name = "hub88"

urlpatterns = [
    path("user/info", views.wallet_call, {"endpoint": "info"}, name="user-info"),
    path("user/balance", views.wallet_call, {"endpoint": "balance"}, name="user-balance"),
    path("transaction/bet", views.wallet_call, {"endpoint": "bet"}, name="transaction-bet"),
    path("transaction/win", views.wallet_call, {"endpoint": "win"}, name="transaction-win"),
    path("transaction/rollback", views.wallet_call, {"endpoint": "rollback"}, name="transaction-rollback"),
]
