"""Payments API: the player on their own payments (bearer token) and staff working the review
queue (session). Thin doors: every write is a service in apps.payments.services, which checks
compliance, permissions and the state machine; its DomainErrors become JSON 4xx answers
(apps.core.api.exceptions)."""

import json
import re

import django_filters
from django.db import connection
from django.db.models import Count
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api.pagination import DefaultCursorPagination
from apps.payments import services
from apps.payments.api.serializers import (
    DepositRequestSerializer,
    PlayerDepositSerializer,
    PlayerPaymentSerializer,
    ReasonSerializer,
    StaffPaymentSerializer,
    WithdrawalRequestSerializer,
)
from apps.payments.models import Payment, Queue, Status
from apps.payments.providers.manual import CODE as MANUAL_BANK
from apps.payments.selectors import (
    includes_large_withdrawal,
    payments_of_player,
    payments_visible_to,
    review_queue_for,
)
from apps.players.api.authentication import IsPlayer, PlayerTokenAuthentication
from apps.security.interface import reauth_required
from apps.tenants.api.permissions import StaffActionPermission
from apps.tenants.selectors import brands_visible_to

PLAYER_TAG = "player: payments"
STAFF_TAG = "staff: payments"


_IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")
IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description="Optional. A retry with the same key returns the first payment; the same key "
    "with other details is refused (409 duplicate_payment).",
)


def _idempotency_reference(request) -> str:
    """The payment reference of an `Idempotency-Key` header ("" without one): a retried
    request with the same key gets the first payment instead of making a second."""
    key = request.headers.get("Idempotency-Key", "")
    if not key:
        return ""
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        raise ValidationError({"Idempotency-Key": ["1 to 64 letters, digits, '-' or '_'."]})
    return f"player-{request.user.pk}-{key}"


def _valid(serializer_class, request) -> dict:
    form = serializer_class(data=request.data)
    form.is_valid(raise_exception=True)
    return form.validated_data


# --- player door -----------------------------------------------------------------------------


class PlayerPaymentPagination(DefaultCursorPagination):
    ordering = ("-created_at", "-id")


class _PlayerView(APIView):
    authentication_classes = [PlayerTokenAuthentication]
    permission_classes = [IsPlayer]


class PlayerPaymentListView(_PlayerView, generics.ListAPIView):
    """The player's own deposits and withdrawals, newest first."""

    serializer_class = PlayerPaymentSerializer
    pagination_class = PlayerPaymentPagination
    filter_backends: list = []

    def get_queryset(self):
        return payments_of_player(self.request.user)

    @extend_schema(tags=[PLAYER_TAG])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class WithdrawalView(_PlayerView):
    @extend_schema(
        request=WithdrawalRequestSerializer,
        responses={201: PlayerPaymentSerializer},
        parameters=[IDEMPOTENCY_HEADER],
        tags=[PLAYER_TAG],
        description="Ask for a payout by bank transfer. The money is reserved at once; the "
        "withdrawal may be reviewed before it is paid.",
    )
    def post(self, request):
        data = _valid(WithdrawalRequestSerializer, request)
        payment = services.withdrawal_request(
            player=request.user,
            provider_reference=_idempotency_reference(request),
            amount=data["amount"],
            currency=data["currency"],
            method=data["method"],
            provider=MANUAL_BANK,
            actor=request.user,
            account=data["account"],
        )
        return Response(PlayerPaymentSerializer(payment).data, status=status.HTTP_201_CREATED)


class WithdrawalCancelView(_PlayerView):
    @extend_schema(
        request=None,
        responses={200: PlayerPaymentSerializer},
        tags=[PLAYER_TAG],
        description="Take back a withdrawal that has not been sent for payout; the money is released.",
    )
    def post(self, request, payment_id: str):
        payment = services.withdrawal_cancel_by_player(payment_id=int(payment_id), player=request.user)
        return Response(PlayerPaymentSerializer(payment).data)


class DepositView(_PlayerView):
    @extend_schema(
        request=DepositRequestSerializer,
        responses={201: PlayerDepositSerializer},
        parameters=[IDEMPOTENCY_HEADER],
        tags=[PLAYER_TAG],
        description="Announce a deposit by bank transfer. Put `bank_reference` on the transfer; "
        "the deposit is credited when the operator receives it.",
    )
    def post(self, request):
        data = _valid(DepositRequestSerializer, request)
        payment = services.deposit_initiate(
            player=request.user,
            provider_reference=_idempotency_reference(request),
            amount=data["amount"],
            currency=data["currency"],
            method=data["method"],
            provider=MANUAL_BANK,
            actor=request.user,
        )
        return Response(PlayerDepositSerializer(payment).data, status=status.HTTP_201_CREATED)


# --- staff door ------------------------------------------------------------------------------


class StaffPaymentFilter(django_filters.FilterSet):
    # Choices come from the caller's own brands: another brand's code is as unknown as a
    # made-up one, so the filter cannot be used to probe which brands exist.
    brand = django_filters.ModelChoiceFilter(
        queryset=lambda request: brands_visible_to(request.user) if request else None,
        to_field_name="code",
    )
    kind = django_filters.ChoiceFilter(choices=Payment.Kind.choices)
    status = django_filters.ChoiceFilter(choices=Status.choices)
    queue = django_filters.ChoiceFilter(choices=[(Queue.STANDARD, "Standard"), (Queue.SENIOR, "Senior")])
    flag = django_filters.CharFilter(
        method="filter_flag", max_length=64, help_text="A risk flag code, e.g. first_withdrawal."
    )

    class Meta:
        model = Payment
        fields = ["brand", "kind", "status", "queue", "flag"]

    def filter_flag(self, queryset, name, value):
        value = value.lower()  # flag codes are lower-case; alike on every database
        if connection.features.supports_json_field_contains:
            return queryset.filter(risk_flags__contains=[{"code": value}])
        # SQLite (the embedded default) has no JSON containment: match the stored text, where
        # a flag is {"code": "...", ...} (json.dumps) and a quote inside a value is escaped.
        # Flag codes are lower-case identifiers, so the case-insensitive match is exact.
        encoded = json.dumps({"code": value})[1:-1]
        return queryset.filter(risk_flags__icontains=encoded)


class ReviewQueuePagination(CursorPagination):
    """The queue, most urgent first: by deadline (every item in the queue has one)."""

    ordering = ("sla_due_at", "id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


_REASON_OPTIONAL = "A note for the review history (optional)."
_REASON_REQUIRED = "Required: why (kept in the review history)."


@extend_schema(tags=[STAFF_TAG])
class StaffPaymentViewSet(viewsets.ReadOnlyModelViewSet):
    """Payments of the brands the signed-in staff member may access."""

    # Each decision is the service of the same name (apps.payments.services.review_*), which
    # checks the permission again on the payment's brand, locks the payment and records who.

    serializer_class = StaffPaymentSerializer
    permission_classes = [StaffActionPermission]
    required_permissions = {
        "list": "payments.view_payment",
        "retrieve": "payments.view_payment",
        "review_queue": "payments.view_payment",
        "claim": "payments.review_payments",
        "unclaim": "payments.review_payments",
        "approve": "payments.approve_payment",
        "reject": "payments.approve_payment",
        "escalate": "payments.escalate_payment",
    }
    filterset_class = StaffPaymentFilter
    # At most 18 digits: a longer id would overflow BIGINT (a 500, not a 404).
    lookup_value_regex = "[0-9]{1,18}"

    def _annotated(self, queryset):
        return queryset.select_related("brand", "player", "currency", "claimed_by", "account").annotate(
            approvals_given=Count("approvals")
        )

    def get_queryset(self):
        return self._annotated(payments_visible_to(self.request.user))

    @extend_schema(responses={200: StaffPaymentSerializer(many=True)})
    @action(
        detail=False,
        methods=["get"],
        url_path="review-queue",
        pagination_class=ReviewQueuePagination,
    )
    def review_queue(self, request):
        """Items waiting for or under review, the most urgent deadline first."""
        queryset = self.filter_queryset(self._annotated(review_queue_for(request.user)))
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def _decide(self, request, service) -> Response:
        payment = self.get_object()  # another brand's payment: 404, like a missing one
        reason = _valid(ReasonSerializer, request)["reason"]
        service(actor=request.user, payment_id=payment.pk, reason=reason)
        return self._answer(payment.pk)

    def _answer(self, payment_id: int) -> Response:
        return Response(self.get_serializer(self.get_queryset().get(pk=payment_id)).data)

    @extend_schema(request=None, responses={200: StaffPaymentSerializer})
    @action(detail=True, methods=["post"])
    def claim(self, request, pk=None):
        """Take the item: from now on only you can decide it (until you unclaim it)."""
        payment = self.get_object()
        services.review_claim(actor=request.user, payment_id=payment.pk)
        return self._answer(payment.pk)

    @extend_schema(
        request=ReasonSerializer, responses={200: StaffPaymentSerializer}, description=_REASON_OPTIONAL
    )
    @action(detail=True, methods=["post"])
    def unclaim(self, request, pk=None):
        """Put a claimed item back in the queue."""
        return self._decide(request, services.review_unclaim)

    @extend_schema(
        request=ReasonSerializer, responses={200: StaffPaymentSerializer}, description=_REASON_OPTIONAL
    )
    @action(detail=True, methods=["post"])
    @reauth_required(
        "approve a large withdrawal",
        when=lambda self, request, pk=None: includes_large_withdrawal(self.get_queryset().filter(pk=pk)),
    )
    def approve(self, request, pk=None):
        """Approve the item you hold (four eyes: a large withdrawal needs two people)."""
        return self._decide(request, services.review_approve)

    @extend_schema(
        request=ReasonSerializer, responses={200: StaffPaymentSerializer}, description=_REASON_REQUIRED
    )
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """Reject the item you hold, with a reason."""
        return self._decide(request, services.review_reject)

    @extend_schema(
        request=ReasonSerializer, responses={200: StaffPaymentSerializer}, description=_REASON_REQUIRED
    )
    @action(detail=True, methods=["post"])
    def escalate(self, request, pk=None):
        """Send the item to the senior queue, with a reason."""
        return self._decide(request, services.review_escalate)
