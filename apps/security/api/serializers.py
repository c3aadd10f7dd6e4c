from rest_framework import serializers


class ReauthSerializer(serializers.Serializer):
    password = serializers.CharField(max_length=4096, trim_whitespace=False, write_only=True)
    token = serializers.CharField(
        max_length=16, write_only=True, help_text="A code from the authenticator app, or a recovery code."
    )


class ReauthAnswerSerializer(serializers.Serializer):
    reauthenticated_until = serializers.DateTimeField()
