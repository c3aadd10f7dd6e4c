"""Staff API of the exclusions app: marketing exports (the list of contactable players).

POST makes an export through exclusions.marketing_export and answers with the file itself
(CSV, or JSON with the players and the export's summary); GET lists the exports made.
"""

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, viewsets

from apps.exclusions.api.serializers import MarketingExportRequestSerializer, MarketingExportSerializer
from apps.exclusions.marketing import marketing_export, marketing_exports_visible_to
from apps.security.interface import reauth_required
from apps.tenants.api.permissions import StaffActionPermission
from apps.tenants.selectors import brands_visible_to


@extend_schema(tags=["staff: exclusions"])
class StaffMarketingExportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Marketing exports of the brands the signed-in staff member may access."""

    serializer_class = MarketingExportSerializer
    permission_classes = [StaffActionPermission]
    required_permissions = {
        "list": "exclusions.view_marketingexport",
        "retrieve": "exclusions.view_marketingexport",
        "create": "exclusions.export_marketing",
    }

    def get_queryset(self):
        return marketing_exports_visible_to(self.request.user).select_related("brand", "requested_by")

    @extend_schema(
        request=MarketingExportRequestSerializer,
        responses={
            200: OpenApiResponse(
                OpenApiTypes.BINARY,
                description="text/csv (player_id, username, email, first_name) or application/json"
                ' ({"players": [...], "export": {...}}). Email and first name are masked without'
                " players.view_personal_data on the brand.",
            )
        },
        description="Make a marketing export of a brand's contactable players. Excluded, timed-out,"
        " closed and suspended players, those who did not opt in and those a national register"
        " refuses (or cannot answer about) are left out and recorded with the reason.",
    )
    @reauth_required("export personal data")
    def create(self, request):
        form = MarketingExportRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        # Another brand's id answers exactly like one that does not exist.
        brand = brands_visible_to(request.user).filter(pk=data["brand"]).first()
        if brand is None:
            raise serializers.ValidationError({"brand": ["Unknown brand."]})
        produced = marketing_export(
            actor=request.user, brand=brand, purpose=data["purpose"], fmt=data["format"]
        )
        response = FileResponse(
            produced.file, as_attachment=True, filename=produced.filename, content_type=produced.content_type
        )
        response["X-Marketing-Export-Id"] = str(produced.export.pk)
        return response
