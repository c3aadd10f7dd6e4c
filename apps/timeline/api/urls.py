from django.urls import re_path

from apps.timeline.api.views import PlayerTimelineViewSet

urlpatterns = [
    # At most 18 digits: a longer id is a 404, not a bigint overflow in the database.
    re_path(
        r"^players/(?P<player_id>[0-9]{1,18})/timeline$",
        PlayerTimelineViewSet.as_view({"get": "list"}),
        name="staff-player-timeline",
    ),
]
