from django.urls import path

from apps.security.api import views

urlpatterns = [path("reauth", views.StaffReauthView.as_view(), name="staff-reauth")]
