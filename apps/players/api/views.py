"""Player API (token auth, a player acting on themselves) and staff API (session auth)."""

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.players import services
from apps.players.api.authentication import IsPlayer, PlayerTokenAuthentication
from apps.players.api.serializers import (
    LoginSerializer,
    OwnProfileSerializer,
    OwnProfileUpdateSerializer,
    RegisterSerializer,
    StaffPlayerSerializer,
    StatusChangeSerializer,
    TokenSerializer,
)
from apps.players.masking import personal_data_visible
from apps.players.models import PERSONAL_DATA_FIELDS, Player
from apps.players.selectors import players_visible_to
from apps.security.interface import brand_ip_check, client_ip, personal_data_read_record
from apps.tenants.api.permissions import StaffActionPermission
from apps.tenants.selectors import brand_get_by_code, brands_visible_to


class RegisterView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(request=RegisterSerializer, responses={201: OwnProfileSerializer}, tags=["player"])
    def post(self, request):
        form = RegisterSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        brand = brand_get_by_code(data["brand"])
        if brand is None:
            raise serializers.ValidationError({"brand": ["Unknown brand."]})
        brand_ip_check(request, brand.pk)
        player = services.player_register(
            brand=brand,
            username=data["username"],
            email=data["email"],
            password=data["password"],
            first_name=data["first_name"],
            last_name=data["last_name"],
            date_of_birth=data["date_of_birth"],
            country=data["country"],
            address_line=data["address_line"],
            city=data["city"],
            postcode=data["postcode"],
            mobile=data["mobile"],
            national_id=data["national_id"],
            currency_code=data.get("currency"),
            marketing_opt_in=data["marketing_opt_in"],
        )
        return Response(OwnProfileSerializer(player).data, status=status.HTTP_201_CREATED)


class LoginView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    # Rate-limited per client address (apps/security/ratelimit.py, RATE_LIMITS["login"]).
    throttle_scope = "login"

    @extend_schema(request=LoginSerializer, responses={200: TokenSerializer}, tags=["player"])
    def post(self, request):
        form = LoginSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        brand = brand_get_by_code(data["brand"])
        if brand is not None:
            brand_ip_check(request, brand.pk)
        caller = client_ip(request._request)
        player, key, expires_at = services.player_login(
            brand_code=data["brand"],
            login=data["login"],
            password=data["password"],
            ip=str(caller) if caller else request.META.get("REMOTE_ADDR"),
        )
        return Response(
            TokenSerializer({"token": key, "expires_at": expires_at, "player_id": player.pk}).data
        )


class LogoutView(APIView):
    authentication_classes = [PlayerTokenAuthentication]
    permission_classes = [IsPlayer]

    @extend_schema(request=None, responses={204: None}, tags=["player"])
    def post(self, request):
        caller = client_ip(request._request)
        services.player_logout(key=request.auth, ip=str(caller) if caller else None)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProfileView(APIView):
    authentication_classes = [PlayerTokenAuthentication]
    permission_classes = [IsPlayer]

    @extend_schema(responses={200: OwnProfileSerializer}, tags=["player"])
    def get(self, request):
        return Response(OwnProfileSerializer(request.user).data)

    @extend_schema(request=OwnProfileUpdateSerializer, responses={200: OwnProfileSerializer}, tags=["player"])
    def patch(self, request):
        form = OwnProfileUpdateSerializer(data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        services.player_profile_update_by_player(player=request.user, changes=form.validated_data)
        return Response(OwnProfileSerializer(request.user).data)


class StaffPlayerFilter(django_filters.FilterSet):
    # Choices come from the caller's own brands: another brand's code is as unknown as
    # a made-up one, so the filter cannot be used to probe which brands exist.
    brand = django_filters.ModelChoiceFilter(
        queryset=lambda request: brands_visible_to(request.user) if request else None,
        to_field_name="code",
    )
    status = django_filters.ChoiceFilter(choices=Player.Status.choices)
    kyc_status = django_filters.ChoiceFilter(choices=Player.KycStatus.choices)
    username = django_filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = Player
        fields = ["brand", "status", "kyc_status", "username"]


@extend_schema(tags=["staff"])
class StaffPlayerViewSet(viewsets.ReadOnlyModelViewSet):
    """Players of the brands the signed-in staff member may access."""

    serializer_class = StaffPlayerSerializer
    permission_classes = [StaffActionPermission]
    required_permissions = {
        "list": "players.view_player",
        "retrieve": "players.view_player",
        "change_status": "players.change_player_status",
    }
    filterset_class = StaffPlayerFilter

    def get_queryset(self):
        return players_visible_to(self.request.user).select_related("brand")

    def get_serializer_context(self):
        context = super().get_serializer_context()
        cache: dict[int, bool] = {}

        def visible(brand_id: int) -> bool:
            if brand_id not in cache:
                cache[brand_id] = personal_data_visible(self.request.user, brand_id=brand_id)
            return cache[brand_id]

        context["personal_data_visible"] = visible
        self._personal_data_visible = visible
        return context

    def get_serializer(self, *args, **kwargs):
        # The players an answer shows, for the access audit (finalize_response).
        if args:
            shown = args[0]
            self._players_shown = [shown] if isinstance(shown, Player) else list(shown)
        return super().get_serializer(*args, **kwargs)

    def finalize_response(self, request, response, *args, **kwargs):
        """One access-audit record per answer (and brand) that showed personal data
        unmasked: which players, which fields. Masked answers are not recorded."""
        response = super().finalize_response(request, response, *args, **kwargs)
        shown = getattr(self, "_players_shown", None)
        visible = getattr(self, "_personal_data_visible", None)
        if shown and visible is not None and 200 <= response.status_code < 300:
            unmasked = [p for p in shown if isinstance(p, Player) and visible(p.brand_id)]
            if unmasked:
                personal_data_read_record(
                    request=request._request,
                    actor=request.user,
                    players=unmasked,
                    fields=PERSONAL_DATA_FIELDS,
                    source=f"players.staff_api.{self.action}",
                )
        return response

    @extend_schema(request=StatusChangeSerializer, responses={200: StaffPlayerSerializer})
    @action(detail=True, methods=["post"], url_path="status")
    def change_status(self, request, pk=None):
        player = self.get_object()
        form = StatusChangeSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        services.player_status_change(
            actor=request.user,
            player=player,
            transition=form.validated_data["transition"],
            reason=form.validated_data["reason"],
        )
        player.refresh_from_db()
        return Response(self.get_serializer(player).data)
