from rest_framework import serializers

from apps.responsible_gaming.models import Exclusion, Kind, Limit, LimitChange, Period

MAX_AMOUNT = 10**15


class LimitSerializer(serializers.ModelSerializer):
    class Meta:
        model = Limit
        fields = ["kind", "period", "amount", "currency", "updated_at"]
        read_only_fields = fields


class LimitChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = LimitChange
        fields = [
            "id",
            "kind",
            "period",
            "old_amount",
            "new_amount",
            "currency",
            "status",
            "effective_at",
            "rule",
            "created_at",
        ]
        read_only_fields = fields


class ExclusionSerializer(serializers.ModelSerializer):
    blocked_until = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Exclusion
        fields = ["id", "kind", "scope", "starts_at", "ends_at", "blocked_until"]
        read_only_fields = fields


class OverviewSerializer(serializers.Serializer):
    limits = LimitSerializer(many=True)
    pending = LimitChangeSerializer(many=True)
    exclusions = ExclusionSerializer(many=True)
    reality_check_minutes = serializers.IntegerField(allow_null=True)


class _Reason(serializers.Serializer):
    """Staff must give a reason; players may."""

    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class LimitSetSerializer(_Reason):
    kind = serializers.ChoiceField(choices=Kind.choices)
    period = serializers.ChoiceField(choices=Period.choices)
    amount = serializers.IntegerField(min_value=0, max_value=MAX_AMOUNT, allow_null=True)


class TimeOutSerializer(_Reason):
    hours = serializers.IntegerField(min_value=1, max_value=24 * 366)


class SelfExclusionSerializer(_Reason):
    months = serializers.IntegerField(min_value=1, max_value=120, allow_null=True)
    all_brands = serializers.BooleanField(default=False)


class RealityCheckSerializer(_Reason):
    minutes = serializers.IntegerField(min_value=5, max_value=1440, allow_null=True)


class CloseAccountSerializer(_Reason):
    pass
