"""Staff API of the security app: re-authentication before sensitive actions."""

from datetime import UTC, datetime

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.security import otp
from apps.security.api.serializers import ReauthAnswerSerializer, ReauthSerializer
from apps.tenants.selectors import is_working_staff


class IsWorkingStaff(BasePermission):
    def has_permission(self, request, view):
        return is_working_staff(request.user)


class StaffReauthView(APIView):
    """Confirm your password and a second-factor code again. Sensitive actions (large
    withdrawal approvals, limit changes, personal-data exports) answer 403 reauth_required
    until this was done within STAFF_REAUTH_SECONDS; a wrong password or code is 400
    reauth_failed (and counts toward the account's lockout)."""

    permission_classes = [IsWorkingStaff]
    # The login bucket (per client address): a password is tried here.
    throttle_scope = "login"

    @extend_schema(
        tags=["staff: security"], request=ReauthSerializer, responses={200: ReauthAnswerSerializer}
    )
    def post(self, request):
        form = ReauthSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        until = otp.reauth_check(
            request._request, password=form.validated_data["password"], token=form.validated_data["token"]
        )
        return Response({"reauthenticated_until": datetime.fromtimestamp(until, tz=UTC).isoformat()})
