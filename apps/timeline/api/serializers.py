from rest_framework import serializers

from apps.timeline.models import TimelineEntry


class TimelineEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = TimelineEntry
        fields = [
            "id",
            "occurred_at",
            "category",
            "summary",
            "amount",
            "currency",
            "source_type",
            "source_id",
            "actor",
            "event_id",
        ]
        read_only_fields = fields


class TimelineQuerySerializer(serializers.Serializer):
    """The list's filters: ?category=&from=&to=&q= (from inclusive, to exclusive)."""

    category = serializers.ChoiceField(choices=TimelineEntry.Category.choices, required=False)
    from_ = serializers.DateTimeField(required=False)
    to = serializers.DateTimeField(required=False)
    q = serializers.CharField(required=False, max_length=100, trim_whitespace=True)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields
