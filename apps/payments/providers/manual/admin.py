"""The manual bank transfer adapter's doors in the payment admin: record a bank deposit, and
mark a payout sent, paid or failed. Mixed into PaymentAdmin (apps/payments/admin.py), whose
`_each` and `_reason_or_ask` report each payment's result and ask for a missing reason."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from apps.core.exceptions import DomainError
from apps.core.money import money_format
from apps.payments.models import Payment, Status
from apps.payments.providers.manual import doors
from apps.payments.providers.manual.forms import BankDepositForm

# step name -> (button label, permission, reason, call(actor, payment, reason)); the reason
# is "" (none), "note" (optional) or "required", as for the review steps.
MANUAL_STEPS = {
    "payout_sent": (
        "Mark payout sent",
        "process_payouts",
        "",
        lambda actor, payment, reason: doors.payout_sent(actor=actor, payment=payment),
    ),
    "payout_paid": (
        "Mark paid",
        "process_payouts",
        "",
        lambda actor, payment, reason: doors.payout_paid(actor=actor, payment=payment),
    ),
    "payout_failed": (
        "Mark failed",
        "process_payouts",
        "required",
        lambda actor, payment, reason: doors.payout_failed(actor=actor, payment=payment, reason=reason),
    ),
}
MANUAL_ACTIONS = ["mark_payout_sent", "mark_paid", "mark_failed"]


def _money(payment: Payment) -> str:
    currency = payment.currency
    return money_format(payment.amount, currency_exponent=currency.exponent, currency_code=currency.code)


class ManualBankAdminMixin:
    """Shown only where it applies: the actions refuse any payment but a staff-settled
    payout, the buttons appear only on one, and each needs its own permission."""

    def has_process_payouts_permission(self, request):
        return request.user.has_perm("payments.process_payouts")

    def has_record_deposit_permission(self, request):
        return request.user.has_perm("payments.record_manual_deposit")

    def manual_steps_for(self, payment: Payment) -> list[str]:
        if payment.kind != Payment.Kind.WITHDRAWAL or not doors.staff_settled(payment):
            return []
        steps = []
        if payment.status in (Status.AUTO_APPROVED, Status.APPROVED):
            steps.append("payout_sent")
        if payment.status == Status.PROCESSING:
            steps.append("payout_paid")
        if payment.status in doors.FAILABLE:
            steps.append("payout_failed")
        return steps

    @admin.action(description="Manual bank transfer: mark payout sent", permissions=["process_payouts"])
    def mark_payout_sent(self, request, queryset):
        self._each(
            request, queryset, "Marked sent", lambda p: doors.payout_sent(actor=request.user, payment=p)
        )

    @admin.action(description="Manual bank transfer: mark paid", permissions=["process_payouts"])
    def mark_paid(self, request, queryset):
        self._each(
            request, queryset, "Marked paid", lambda p: doors.payout_paid(actor=request.user, payment=p)
        )

    @admin.action(
        description="Manual bank transfer: mark failed (reason required)", permissions=["process_payouts"]
    )
    def mark_failed(self, request, queryset):
        reason, ask = self._reason_or_ask(
            request, queryset, "mark_failed", "Mark payouts failed: give the reason"
        )
        if ask is not None:
            return ask
        self._each(
            request,
            queryset,
            "Marked failed",
            lambda p: doors.payout_failed(actor=request.user, payment=p, reason=reason),
        )
        return None

    def get_urls(self):
        return [
            path(
                "record-bank-deposit/",
                self.admin_site.admin_view(self.record_bank_deposit_view),
                name="payments_payment_record_bank_deposit",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_record_deposit": self.has_record_deposit_permission(request),
        }
        return super().changelist_view(request, extra_context)

    def record_bank_deposit_view(self, request):
        """A transfer seen on the bank statement becomes a credited deposit (or a funded one
        waiting in the review queue, if the review rules flag it)."""
        if not self.has_record_deposit_permission(request):
            raise PermissionDenied
        form = BankDepositForm(request.POST or None, user=request.user)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                payment = doors.bank_deposit_record(
                    actor=request.user,
                    player=data["player"],
                    amount=data["amount_minor"],
                    currency=data["currency"].code,
                    bank_reference=data["bank_reference"],
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                if payment.status == Status.COMPLETED:
                    messages.success(
                        request, f"Deposit #{payment.pk} of {_money(payment)} credited to {payment.player}."
                    )
                else:
                    messages.warning(
                        request,
                        f"Deposit #{payment.pk} of {_money(payment)} is held for review"
                        f" ({', '.join(payment.flag_codes)}); it is credited once approved.",
                    )
                return HttpResponseRedirect(reverse("admin:payments_payment_change", args=[payment.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": "Record bank deposit",
            "subtitle": None,
            "opts": self.opts,
            "form": form,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/payments/record_bank_deposit.html", context)
