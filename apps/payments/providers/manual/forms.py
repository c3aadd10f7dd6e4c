"""The "record bank deposit" form: what a person read on the bank statement, checked exactly."""

from django import forms

from apps.core.models import Currency
from apps.core.money import AmountNotExact, decimal_to_minor
from apps.payments.models import Payment
from apps.payments.providers.manual import CODE
from apps.players.selectors import players_visible_to
from apps.tenants.selectors import brands_visible_to


class BankDepositForm(forms.Form):
    player = forms.ModelChoiceField(
        queryset=None,
        widget=forms.TextInput(attrs={"size": 10}),
        help_text="The player's id (players of your brands only).",
        error_messages={"invalid_choice": "No such player in your brands."},
    )
    amount = forms.CharField(
        max_length=40, help_text='In major units, exactly as on the statement, e.g. "250.00".'
    )
    currency = forms.ModelChoiceField(queryset=Currency.objects.all(), empty_label=None)
    bank_reference = forms.CharField(
        max_length=128, help_text="The bank's reference of the transfer; each is recorded once."
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["player"].queryset = players_visible_to(user).select_related("brand")
        self.fields["currency"].queryset = Currency.objects.filter(
            brands__in=brands_visible_to(user).values("pk")
        ).distinct()

    def clean_bank_reference(self):
        reference = self.cleaned_data["bank_reference"].strip()
        if Payment.objects.filter(provider=CODE, provider_reference=reference).exists():
            raise forms.ValidationError("This bank reference was recorded already.")
        return reference

    def clean(self):
        data = super().clean()
        player, currency, raw = data.get("player"), data.get("currency"), data.get("amount")
        if currency is None or raw is None:
            return data
        try:
            minor = decimal_to_minor(raw.strip(), currency_exponent=currency.exponent)
        except AmountNotExact as exc:
            self.add_error("amount", exc.message)
            return data
        if minor <= 0:
            self.add_error("amount", "The amount must be positive.")
            return data
        if player is not None and not player.brand.currencies.filter(pk=currency.pk).exists():
            self.add_error("currency", f"{currency.code} is not offered by the player's brand.")
            return data
        data["amount_minor"] = minor
        return data
