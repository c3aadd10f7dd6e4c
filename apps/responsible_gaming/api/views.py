"""Responsible gaming API: the player on themselves (bearer token) and staff (with a reason).

Every write goes through services.py, which checks who may act and the pack's rules.
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.players.api.authentication import IsPlayer, PlayerTokenAuthentication
from apps.players.selectors import players_visible_to
from apps.responsible_gaming import services
from apps.responsible_gaming.api.serializers import (
    CloseAccountSerializer,
    ExclusionSerializer,
    LimitChangeSerializer,
    LimitSetSerializer,
    OverviewSerializer,
    RealityCheckSerializer,
    SelfExclusionSerializer,
    TimeOutSerializer,
)
from apps.responsible_gaming.models import LimitChange
from apps.responsible_gaming.selectors import player_overview
from apps.security.interface import reauth_required
from apps.tenants.api.permissions import StaffActionPermission

PLAYER_TAG = "player: responsible gaming"


def _valid(serializer_class, request) -> dict:
    form = serializer_class(data=request.data)
    form.is_valid(raise_exception=True)
    return form.validated_data


# One implementation per operation; the player and staff doors differ in who the player is.


def _overview(player) -> Response:
    return Response(OverviewSerializer(player_overview(player)).data)


def _limit_set(actor, player, request) -> Response:
    data = _valid(LimitSetSerializer, request)
    change = services.limit_set(
        actor=actor,
        player=player,
        kind=data["kind"],
        period=data["period"],
        amount=data["amount"],
        reason=data["reason"],
    )
    return Response(LimitChangeSerializer(change).data)


def _limit_cancel(actor, player, change_id, request) -> Response:
    change = get_object_or_404(LimitChange, pk=change_id, player=player)
    data = _valid(CloseAccountSerializer, request)
    return Response(
        LimitChangeSerializer(
            services.limit_change_cancel(actor=actor, change=change, reason=data["reason"])
        ).data
    )


def _time_out(actor, player, request) -> Response:
    data = _valid(TimeOutSerializer, request)
    exclusion = services.timeout_start(actor=actor, player=player, hours=data["hours"], reason=data["reason"])
    return Response(ExclusionSerializer(exclusion).data, status=status.HTTP_201_CREATED)


def _self_exclusion(actor, player, request) -> Response:
    data = _valid(SelfExclusionSerializer, request)
    exclusion = services.self_exclusion_start(
        actor=actor,
        player=player,
        months=data["months"],
        all_brands=data["all_brands"],
        reason=data["reason"],
    )
    return Response(ExclusionSerializer(exclusion).data, status=status.HTTP_201_CREATED)


def _reality_check(actor, player, request) -> Response:
    data = _valid(RealityCheckSerializer, request)
    services.reality_check_set(actor=actor, player=player, minutes=data["minutes"], reason=data["reason"])
    return _overview(player)


# --- player door -----------------------------------------------------------------------------


class _PlayerView(APIView):
    authentication_classes = [PlayerTokenAuthentication]
    permission_classes = [IsPlayer]


class OverviewView(_PlayerView):
    @extend_schema(responses={200: OverviewSerializer}, tags=[PLAYER_TAG])
    def get(self, request):
        return _overview(request.user)


class LimitView(_PlayerView):
    @extend_schema(
        request=LimitSetSerializer,
        responses={200: LimitChangeSerializer},
        tags=[PLAYER_TAG],
        description="Lower (at once) or raise/remove (amount null; after the cooling-off) a limit.",
    )
    def post(self, request):
        return _limit_set(request.user, request.user, request)


class LimitCancelView(_PlayerView):
    @extend_schema(
        request=CloseAccountSerializer,
        responses={200: LimitChangeSerializer},
        tags=[PLAYER_TAG],
    )
    def post(self, request, change_id: int):
        return _limit_cancel(request.user, request.user, change_id, request)


class TimeOutView(_PlayerView):
    @extend_schema(request=TimeOutSerializer, responses={201: ExclusionSerializer}, tags=[PLAYER_TAG])
    def post(self, request):
        return _time_out(request.user, request.user, request)


class SelfExclusionView(_PlayerView):
    @extend_schema(
        request=SelfExclusionSerializer,
        responses={201: ExclusionSerializer},
        tags=[PLAYER_TAG],
    )
    def post(self, request):
        return _self_exclusion(request.user, request.user, request)


class RealityCheckView(_PlayerView):
    @extend_schema(
        request=RealityCheckSerializer,
        responses={200: OverviewSerializer},
        tags=[PLAYER_TAG],
    )
    def put(self, request):
        return _reality_check(request.user, request.user, request)


class CloseAccountView(_PlayerView):
    @extend_schema(request=CloseAccountSerializer, responses={204: None}, tags=[PLAYER_TAG])
    def post(self, request):
        data = _valid(CloseAccountSerializer, request)
        services.account_close(actor=request.user, player=request.user, reason=data["reason"])
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- staff door ------------------------------------------------------------------------------


@extend_schema(tags=["staff: responsible gaming"])
class StaffResponsibleGamingViewSet(viewsets.GenericViewSet):
    """A player's responsible-gaming settings, for staff of the player's brand."""

    permission_classes = [StaffActionPermission]
    required_permissions = {
        "retrieve": "responsible_gaming.view_limit",
        "limits": "responsible_gaming.set_limits",
        "limit_cancel": "responsible_gaming.set_limits",
        "time_out": "responsible_gaming.set_limits",
        "self_exclusion": "responsible_gaming.set_limits",
    }
    serializer_class = OverviewSerializer

    def get_queryset(self):
        return players_visible_to(self.request.user).select_related("brand")

    def retrieve(self, request, pk=None):
        return _overview(self.get_object())

    @extend_schema(request=LimitSetSerializer, responses={200: LimitChangeSerializer})
    @action(detail=True, methods=["post"])
    @reauth_required("change a player's limits")
    def limits(self, request, pk=None):
        return _limit_set(request.user, self.get_object(), request)

    @extend_schema(request=CloseAccountSerializer, responses={200: LimitChangeSerializer})
    @action(detail=True, methods=["post"], url_path=r"limits/pending/(?P<change_id>[0-9]{1,18})/cancel")
    @reauth_required("change a player's limits")
    def limit_cancel(self, request, pk=None, change_id=None):
        return _limit_cancel(request.user, self.get_object(), int(change_id), request)

    @extend_schema(request=TimeOutSerializer, responses={201: ExclusionSerializer})
    @action(detail=True, methods=["post"], url_path="time-out")
    def time_out(self, request, pk=None):
        return _time_out(request.user, self.get_object(), request)

    @extend_schema(request=SelfExclusionSerializer, responses={201: ExclusionSerializer})
    @action(detail=True, methods=["post"], url_path="self-exclusion")
    def self_exclusion(self, request, pk=None):
        return _self_exclusion(request.user, self.get_object(), request)
