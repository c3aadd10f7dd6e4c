from rest_framework import serializers

from apps.exclusions.models import MarketingExport


class MarketingExportSerializer(serializers.ModelSerializer):
    brand = serializers.SlugRelatedField(slug_field="code", read_only=True)
    requested_by = serializers.CharField(source="requested_by.username", read_only=True)

    class Meta:
        model = MarketingExport
        fields = ["id", "brand", "purpose", "requested_by", "candidates", "included", "removed", "created_at"]
        read_only_fields = fields


class MarketingExportRequestSerializer(serializers.Serializer):
    brand = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    purpose = serializers.CharField(max_length=200)
    format = serializers.ChoiceField(choices=["csv", "json"], default="csv")
