from django.urls import path

from apps.rules.api.views import PlayerInboxView

urlpatterns = [path("messages", PlayerInboxView.as_view(), name="player-messages")]
