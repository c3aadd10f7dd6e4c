"""PaymentIQ's operator API, under the base URL given to PaymentIQ (integrations/paymentiq/)."""

from django.urls import path

from apps.payments.providers.paymentiq import views

app_name = "paymentiq"

urlpatterns = [
    path(action, views.provider_call, {"action": action}, name=action)
    for action in ("verifyuser", "lookupuser", "authorize", "transfer", "cancel", "notification")
]
