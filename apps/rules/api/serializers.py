from rest_framework import serializers

from apps.rules.models import Message


class InboxMessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = ["id", "created_at", "channel", "subject", "body"]
        read_only_fields = fields
