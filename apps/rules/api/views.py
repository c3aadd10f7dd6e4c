"""Player API: the in-account inbox (safer-gambling messages BeAware rules sent)."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics

from apps.core.api.pagination import DefaultCursorPagination
from apps.players.api.authentication import IsPlayer, PlayerTokenAuthentication
from apps.rules.api.serializers import InboxMessageSerializer
from apps.rules.selectors import messages_of_player


class InboxPagination(DefaultCursorPagination):
    ordering = ("-created_at", "-id")


class PlayerInboxView(generics.ListAPIView):
    """The player's messages, newest first: every message a rule sent (an e-mail too has
    its copy here)."""

    authentication_classes = [PlayerTokenAuthentication]
    permission_classes = [IsPlayer]
    serializer_class = InboxMessageSerializer
    pagination_class = InboxPagination
    filter_backends: list = []

    def get_queryset(self):
        return messages_of_player(self.request.user)

    @extend_schema(tags=["player: messages"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
