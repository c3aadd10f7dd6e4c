"""Staff API: one player's timeline, newest first."""

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import viewsets

from apps.core.api.pagination import DefaultCursorPagination
from apps.players.selectors import players_visible_to
from apps.tenants.api.permissions import StaffActionPermission
from apps.timeline.api.serializers import TimelineEntrySerializer, TimelineQuerySerializer
from apps.timeline.models import TimelineEntry
from apps.timeline.selectors import timeline_for


class TimelinePagination(DefaultCursorPagination):
    # Keyset on (occurred_at, id): stable pages while new entries arrive at the top.
    ordering = ("-occurred_at", "-id")


@extend_schema(
    tags=["staff"],
    parameters=[
        OpenApiParameter("category", OpenApiTypes.STR, enum=TimelineEntry.Category.values),
        OpenApiParameter("from", OpenApiTypes.DATETIME, description="inclusive"),
        OpenApiParameter("to", OpenApiTypes.DATETIME, description="exclusive"),
        OpenApiParameter("q", OpenApiTypes.STR, description="text in the summary"),
    ],
)
class PlayerTimelineViewSet(viewsets.GenericViewSet):
    """A player's timeline. Another brand's player answers 404, as a missing one does."""

    permission_classes = [StaffActionPermission]
    required_permissions = {"list": "timeline.view_timelineentry"}
    serializer_class = TimelineEntrySerializer
    pagination_class = TimelinePagination
    filter_backends: list = []

    def get_queryset(self):
        player_id = self.kwargs["player_id"]
        if not players_visible_to(self.request.user).filter(pk=player_id).exists():
            raise Http404
        query = TimelineQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        filters = query.validated_data
        return timeline_for(
            self.request.user,
            player_id,
            category=filters.get("category"),
            since=filters.get("from"),
            until=filters.get("to"),
            text=filters.get("q"),
        )

    def list(self, request, player_id=None):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)
