from rest_framework import serializers

from apps.tenants.models import Brand


class BrandSerializer(serializers.ModelSerializer):
    operator = serializers.SlugRelatedField(slug_field="code", read_only=True)
    currencies = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)

    class Meta:
        model = Brand
        fields = [
            "id",
            "code",
            "name",
            "operator",
            "jurisdiction",
            "currencies",
            "default_currency",
            "active",
        ]
        read_only_fields = fields
