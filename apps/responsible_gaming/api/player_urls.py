from django.urls import path, re_path

from apps.responsible_gaming.api import views

urlpatterns = [
    path("responsible-gaming", views.OverviewView.as_view(), name="rg-overview"),
    path("responsible-gaming/limits", views.LimitView.as_view(), name="rg-limits"),
    # At most 18 digits: a longer id would overflow the database's BIGINT (a 500, not a 404).
    re_path(
        r"^responsible-gaming/limits/pending/(?P<change_id>[0-9]{1,18})/cancel$",
        views.LimitCancelView.as_view(),
        name="rg-limit-cancel",
    ),
    path("responsible-gaming/time-out", views.TimeOutView.as_view(), name="rg-time-out"),
    path("responsible-gaming/self-exclusion", views.SelfExclusionView.as_view(), name="rg-self-exclusion"),
    path("responsible-gaming/reality-check", views.RealityCheckView.as_view(), name="rg-reality-check"),
    path("responsible-gaming/close-account", views.CloseAccountView.as_view(), name="rg-close-account"),
]
