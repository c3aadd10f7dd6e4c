from django.urls import path

from apps.players.api import views

urlpatterns = [
    path("register", views.RegisterView.as_view(), name="player-register"),
    path("login", views.LoginView.as_view(), name="player-login"),
    path("logout", views.LogoutView.as_view(), name="player-logout"),
    path("profile", views.ProfileView.as_view(), name="player-profile"),
]
