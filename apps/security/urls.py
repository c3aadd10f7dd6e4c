"""The second-factor pages, mounted under /admin/second-factor/ (pam/urls.py)."""

from django.urls import path

from apps.security import views

urlpatterns = [
    path("enrol/", views.otp_enrol, name="security-otp-enrol"),
    path("verify/", views.otp_verify, name="security-otp-verify"),
    path("reauth/", views.reauth, name="security-reauth"),
]
