"""Serializers translate HTTP input to service arguments and results back; no logic here."""

from django_countries.serializer_fields import CountryField
from rest_framework import serializers

from apps.players.masking import player_personal_data
from apps.players.models import Player


class RegisterSerializer(serializers.Serializer):
    brand = serializers.SlugField(max_length=40, help_text="The brand's code.")
    username = serializers.RegexField(r"^[A-Za-z0-9_.-]{3,64}$", max_length=64)
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)
    first_name = serializers.CharField(max_length=100)
    last_name = serializers.CharField(max_length=100)
    date_of_birth = serializers.DateField()
    country = CountryField()
    address_line = serializers.CharField(max_length=200)
    city = serializers.CharField(max_length=100)
    postcode = serializers.CharField(max_length=20)
    mobile = serializers.CharField(max_length=32)
    national_id = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    currency = serializers.RegexField(r"^[A-Z0-9]{3,8}$", required=False)
    marketing_opt_in = serializers.BooleanField(required=False, default=False)


class LoginSerializer(serializers.Serializer):
    brand = serializers.SlugField(max_length=40)
    login = serializers.CharField(max_length=254, help_text="Username or email.")
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()
    player_id = serializers.IntegerField()


class OwnProfileSerializer(serializers.ModelSerializer):
    """What a player sees of themselves: their own data, unmasked."""

    brand = serializers.SlugRelatedField(slug_field="code", read_only=True)
    currency = serializers.CharField(source="currency_id", read_only=True)
    country = CountryField(read_only=True)

    class Meta:
        model = Player
        fields = [
            "id",
            "brand",
            "username",
            "email",
            "first_name",
            "last_name",
            "date_of_birth",
            "country",
            "address_line",
            "city",
            "postcode",
            "mobile",
            "currency",
            "status",
            "kyc_status",
            "marketing_opt_in",
            "registered_at",
        ]
        read_only_fields = fields


class OwnProfileUpdateSerializer(serializers.Serializer):
    address_line = serializers.CharField(max_length=200, required=False)
    city = serializers.CharField(max_length=100, required=False)
    postcode = serializers.CharField(max_length=20, required=False)
    mobile = serializers.CharField(max_length=32, required=False)
    marketing_opt_in = serializers.BooleanField(required=False)


class StaffPlayerSerializer(serializers.Serializer):
    """A player as staff see them: personal data masked without view_personal_data."""

    id = serializers.IntegerField()
    brand = serializers.CharField(source="brand.code")
    username = serializers.CharField()
    status = serializers.CharField()
    kyc_status = serializers.CharField()
    country = serializers.CharField()
    currency = serializers.CharField(source="currency_id")
    registered_at = serializers.DateTimeField()
    last_login_at = serializers.DateTimeField(allow_null=True)
    email = serializers.CharField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    date_of_birth = serializers.CharField()
    address_line = serializers.CharField()
    city = serializers.CharField()
    postcode = serializers.CharField()
    mobile = serializers.CharField()
    national_id = serializers.CharField(allow_blank=True)
    personal_data_masked = serializers.BooleanField()

    def to_representation(self, player):
        visible = self.context["personal_data_visible"](player.brand_id)
        data = {
            "id": player.pk,
            "brand": player.brand.code,
            "username": player.username,
            "status": player.status,
            "kyc_status": player.kyc_status,
            "country": str(player.country),
            "currency": player.currency_id,
            "registered_at": serializers.DateTimeField().to_representation(player.registered_at),
            "last_login_at": (
                serializers.DateTimeField().to_representation(player.last_login_at)
                if player.last_login_at
                else None
            ),
            "personal_data_masked": not visible,
        }
        personal = player_personal_data(player, visible=visible)
        if personal["date_of_birth"] and visible:
            personal["date_of_birth"] = personal["date_of_birth"].isoformat()
        data.update(personal)
        return data


class StatusChangeSerializer(serializers.Serializer):
    transition = serializers.ChoiceField(choices=["suspend", "reactivate", "close", "self_exclude"])
    reason = serializers.CharField(max_length=500)
