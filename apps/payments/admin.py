"""Payments in the staff UI: the review queue (the compliance officer's and payments
reviewer's workbench), review policies, incidents and the manual bank transfer doors.

Every page is a door. Lists go through the brand-scoped selectors; nothing is edited in
place; every change is an action or a button that calls apps.payments.services (or the
manual adapter's doors) and turns a DomainError into an admin message.
"""

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.core.exceptions import PermissionDenied
from django.db import connections
from django.db.models import Count, F, Q
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from apps.core.exceptions import DomainError
from apps.core.models import Currency
from apps.core.money import AmountNotExact, decimal_to_minor, money_format
from apps.dashboards.interface import live_page_context
from apps.payments import selectors, services
from apps.payments.models import (
    AWAITING_REVIEW,
    UNDER_REVIEW,
    Payment,
    PaymentApproval,
    PaymentIncident,
    Queue,
    ReviewAction,
    ReviewPolicy,
    Status,
)
from apps.payments.providers.manual.admin import MANUAL_ACTIONS, MANUAL_STEPS, ManualBankAdminMixin
from apps.payments.providers.manual.doors import staff_settled
from apps.payments.rules import FLAG_LABELS
from apps.players.masking import personal_data_visible, player_personal_data
from apps.players.models import PERSONAL_DATA_FIELDS
from apps.security.interface import personal_data_read_record, reauth_required
from apps.tenants.admin_scoping import BrandListFilter, ReadOnlyAdminMixin, ScopedAdminMixin

# The review rules' flag codes (rules.py, services.py), for the flag filter and the policy form.


# What an action says when no selected id is in the person's list (another brand's or gone).
NONE_SELECTED = "None of the selected payments is in your list; nothing was changed."


def _money(minor: int, currency) -> str:
    return money_format(minor, currency_exponent=currency.exponent, currency_code=currency.code)


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {mins:02d}m"
    return f"{mins}m"


# --- filters ------------------------------------------------------------------------------


class ViewFilter(admin.SimpleListFilter):
    """The list opens on the review queue (under review, most urgent first)."""

    title = "view"
    parameter_name = "view"
    QUEUE, ALL = "queue", "all"

    def lookups(self, request, model_admin):
        return [(self.QUEUE, "Review queue (most urgent first)"), (self.ALL, "All payments")]

    def value(self):
        return self.ALL if super().value() == self.ALL else self.QUEUE

    def choices(self, changelist):
        # No "All" entry: the queue is the default, and "all payments" is one of the choices.
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        if self.value() == self.ALL:
            return queryset
        return queryset.filter(status__in=UNDER_REVIEW)


def _queue_view(request) -> bool:
    return request.GET.get(ViewFilter.parameter_name) != ViewFilter.ALL


def flag_q(code: str, *, using: str = "default") -> Q:
    """Payments whose risk_flags hold a flag with this code."""
    if connections[using].features.supports_json_field_contains:
        return Q(risk_flags__contains=[{"code": code}])
    # SQLite has no JSON containment: the stored text holds `"code": "<code>"`.
    return Q(risk_flags__icontains=f'"code": "{code}"')


class FlagFilter(admin.SimpleListFilter):
    title = "flag / reason"
    parameter_name = "flag"

    def lookups(self, request, model_admin):
        return list(FLAG_LABELS.items())

    def queryset(self, request, queryset):
        if self.value() in FLAG_LABELS:
            return queryset.filter(flag_q(self.value(), using=queryset.db))
        return queryset


class AmountFilter(admin.SimpleListFilter):
    """Buckets in major units of each payment's own currency."""

    title = "amount"
    parameter_name = "amount"
    BUCKETS = {
        "lt100": ("Under 100", None, 100),
        "100-1k": ("100 to 1,000", 100, 1_000),
        "1k-10k": ("1,000 to 10,000", 1_000, 10_000),
        "10k+": ("10,000 and over", 10_000, None),
    }

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _, _) in self.BUCKETS.items()]

    def queryset(self, request, queryset):
        if self.value() not in self.BUCKETS:
            return queryset
        _, low, high = self.BUCKETS[self.value()]
        matches = Q(pk__in=[])
        for exponent in Currency.objects.values_list("exponent", flat=True).distinct():
            bucket = Q(currency__exponent=exponent)
            if low is not None:
                bucket &= Q(amount__gte=low * 10**exponent)
            if high is not None:
                bucket &= Q(amount__lt=high * 10**exponent)
            matches |= bucket
        return queryset.filter(matches)


class AgeFilter(admin.SimpleListFilter):
    title = "age"
    parameter_name = "age"
    BUCKETS = {
        "lt1h": ("Under an hour", None, timedelta(hours=1)),
        "1-4h": ("1 to 4 hours", timedelta(hours=1), timedelta(hours=4)),
        "4-24h": ("4 to 24 hours", timedelta(hours=4), timedelta(days=1)),
        "1-7d": ("1 to 7 days", timedelta(days=1), timedelta(days=7)),
        "7d+": ("Over 7 days", timedelta(days=7), None),
    }

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _, _) in self.BUCKETS.items()]

    def queryset(self, request, queryset):
        if self.value() not in self.BUCKETS:
            return queryset
        _, younger, older = self.BUCKETS[self.value()]
        now = timezone.now()
        if younger is not None:
            queryset = queryset.filter(created_at__lte=now - younger)
        if older is not None:
            queryset = queryset.filter(created_at__gt=now - older)
        return queryset


# --- the payment: review queue and detail ---------------------------------------------------


class PaymentActionForm(helpers.ActionForm):
    reason = forms.CharField(
        required=False,
        max_length=500,
        help_text="Required to reject, escalate or mark failed; a note when approving.",
    )


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class PaymentApprovalInline(_ReadOnlyInline):
    model = PaymentApproval
    fields = ["staff", "note", "created_at"]
    readonly_fields = fields
    verbose_name_plural = "approvals"


class ReviewActionInline(_ReadOnlyInline):
    model = ReviewAction
    fields = ["created_at", "action", "actor", "staff", "reason"]
    readonly_fields = fields
    verbose_name_plural = "review history"


# step name -> (button label, permission, reason, call(actor, payment, reason)); the reason
# is "" (none), "note" (optional) or "required" (the service refuses an empty one).
STEPS = {
    "claim": (
        "Claim",
        "review",
        "",
        lambda actor, p, reason: services.review_claim(actor=actor, payment_id=p.pk),
    ),
    "unclaim": (
        "Put back in the queue",
        "review",
        "note",
        lambda actor, p, reason: services.review_unclaim(actor=actor, payment_id=p.pk, reason=reason),
    ),
    "approve": (
        "Approve",
        "approve",
        "note",
        lambda actor, p, reason: services.review_approve(actor=actor, payment_id=p.pk, reason=reason),
    ),
    "reject": (
        "Reject",
        "approve",
        "required",
        lambda actor, p, reason: services.review_reject(actor=actor, payment_id=p.pk, reason=reason),
    ),
    "escalate": (
        "Escalate to the senior queue",
        "escalate",
        "required",
        lambda actor, p, reason: services.review_escalate(actor=actor, payment_id=p.pk, reason=reason),
    ),
    **MANUAL_STEPS,
}

LARGE_WITHDRAWAL = "approve a large withdrawal"


def _approving_large_withdrawal(model_admin, request, object_id, step) -> bool:
    """The payment page's Approve button, on a large withdrawal the user may approve."""
    object_id = str(object_id)
    # ASCII digits only: "²".isdigit() is true, and int() of it fails.
    if step != "approve" or not model_admin.has_approve_permission(request):
        return False
    if not (object_id.isascii() and object_id.isdigit()):
        return False
    payments = selectors.payments_visible_to(request.user).filter(pk=int(object_id))
    return selectors.includes_large_withdrawal(payments)


@admin.register(Payment)
class PaymentAdmin(ManualBankAdminMixin, ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    """The review queue by default (?view=all for every payment); read-only, changed only
    through the actions and the buttons of the payment page, which call the services."""

    scoping_selector = staticmethod(selectors.payments_visible_to)
    change_list_template = "admin/payments/payment/change_list.html"
    change_form_template = "admin/payments/payment/change_form.html"
    list_display = [
        "id",
        "sla_remaining",
        "queue",
        "status",
        "kind",
        "amount_display",
        "method",
        "provider",
        "player",
        "brand",
        "flags_display",
        "claimed_by",
        "approvals_display",
        "age",
    ]
    list_display_links = ["id"]
    list_filter = [
        ViewFilter,
        ("brand", BrandListFilter),
        "status",
        "kind",
        "queue",
        FlagFilter,
        AmountFilter,
        AgeFilter,
        "method",
        "provider",
    ]
    list_select_related = ["player", "brand", "currency", "claimed_by"]
    search_fields = ["=id", "=provider_reference", "=player__id", "player__username"]
    show_full_result_count = False
    action_form = PaymentActionForm
    actions = [
        "claim",
        "unclaim",
        "approve",
        "reject",
        "escalate",
        "bulk_approve_low_risk",
        *MANUAL_ACTIONS,
    ]
    inlines = [PaymentApprovalInline, ReviewActionInline]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "reference",
                    ("kind", "status"),
                    ("player", "brand"),
                    ("amount_display", "method", "card_type"),
                    "account",
                    ("provider", "provider_reference"),
                    "funds_received",
                ]
            },
        ),
        (
            "Review",
            {
                "fields": [
                    "flags_detail",
                    ("queue", "sla_due_at", "sla_remaining"),
                    "escalated_at",
                    ("claimed_by", "claimed_at"),
                    "approvals_display",
                    ("decided_at", "decision_reason"),
                    ("created_at", "updated_at"),
                ]
            },
        ),
    ]
    readonly_fields = flatten_fieldsets(fieldsets)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("player", "brand", "currency", "claimed_by", "account")
            .annotate(approvals_given=Count("approvals", distinct=True))
        )

    def get_ordering(self, request):
        if _queue_view(request):
            return [F("sla_due_at").asc(nulls_last=True), "created_at"]
        return ["-created_at"]

    # --- columns ---------------------------------------------------------------------
    @admin.display(description="SLA remaining", ordering="sla_due_at")
    def sla_remaining(self, obj):
        if obj.sla_due_at is None or obj.status not in UNDER_REVIEW:
            return "—"
        left = obj.sla_due_at - timezone.now()
        if left < timedelta(0):
            return format_html(
                '<strong class="pam-overdue">overdue {}</strong>',
                _duration(-left),
            )
        return _duration(left)

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, obj):
        return _money(obj.amount, obj.currency)

    @admin.display(description="Flags")
    def flags_display(self, obj):
        return ", ".join(obj.flag_codes) or "—"

    @admin.display(description="Flags")
    def flags_detail(self, obj):
        if not obj.risk_flags:
            return "—"
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li><strong>{}</strong>: {}</li>",
                ((flag.get("code", ""), flag.get("detail", "")) for flag in obj.risk_flags),
            ),
        )

    @admin.display(description="Approvals")
    def approvals_display(self, obj):
        given = getattr(obj, "approvals_given", None)
        if given is None:
            given = obj.approvals.count()
        return f"{given}/{obj.approvals_required}"

    @admin.display(description="Age", ordering="created_at")
    def age(self, obj):
        return _duration(timezone.now() - obj.created_at)

    # --- permissions of the actions and buttons ---------------------------------------
    def has_review_permission(self, request):
        return request.user.has_perm("payments.review_payments")

    def has_approve_permission(self, request):
        return request.user.has_perm("payments.approve_payment")

    def has_escalate_permission(self, request):
        return request.user.has_perm("payments.escalate_payment")

    def has_bulk_approve_permission(self, request):
        return request.user.has_perm("payments.bulk_approve_payments")

    def _allowed(self, request, perm: str) -> bool:
        return getattr(self, f"has_{perm}_permission")(request)

    # --- actions -----------------------------------------------------------------------
    def _each(self, request, queryset, done_label: str, call) -> None:
        done, refused = [], []
        for payment in queryset.order_by("pk"):
            try:
                call(payment)
                done.append(f"#{payment.pk}")
            except DomainError as exc:
                refused.append(f"#{payment.pk}: {exc.message}")
        if done:
            messages.success(request, f"{done_label}: {', '.join(done)}.")
        elif not refused:
            messages.warning(request, NONE_SELECTED)
        for line in refused[:20]:
            messages.error(request, line)
        if len(refused) > 20:
            messages.error(request, f"… and {len(refused) - 20} more refused.")

    def _reason_or_ask(self, request, queryset, action: str, title: str):
        """The reason from the action form or the confirmation page; without one, (again) the
        page that asks for it (nothing is changed until a reason is given)."""
        reason = request.POST.get("reason", "").strip()
        if reason:
            return reason, None
        if request.POST.get("post"):
            messages.error(request, "A reason is required.")
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "subtitle": None,
            "opts": self.opts,
            "payments": list(queryset.order_by("pk")),
            "action": action,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media,
        }
        return None, TemplateResponse(request, "admin/payments/payment/action_reason.html", context)

    @admin.action(description="Claim the selected items", permissions=["review"])
    def claim(self, request, queryset):
        self._each(
            request,
            queryset,
            "Claimed",
            lambda p: services.review_claim(actor=request.user, payment_id=p.pk),
        )

    @admin.action(description="Put the selected items back in the queue", permissions=["review"])
    def unclaim(self, request, queryset):
        reason = request.POST.get("reason", "").strip()
        self._each(
            request,
            queryset,
            "Put back",
            lambda p: services.review_unclaim(actor=request.user, payment_id=p.pk, reason=reason),
        )

    @admin.action(description="Approve the selected items (optional note below)", permissions=["approve"])
    @reauth_required(
        LARGE_WITHDRAWAL,
        when=lambda self, request, queryset: selectors.includes_large_withdrawal(queryset),
    )
    def approve(self, request, queryset):
        note = request.POST.get("reason", "").strip()
        self._each(
            request,
            queryset,
            "Approved",
            lambda p: services.review_approve(actor=request.user, payment_id=p.pk, reason=note),
        )

    @admin.action(description="Reject the selected items (reason required)", permissions=["approve"])
    def reject(self, request, queryset):
        reason, ask = self._reason_or_ask(request, queryset, "reject", "Reject payments: give the reason")
        if ask is not None:
            return ask
        self._each(
            request,
            queryset,
            "Rejected",
            lambda p: services.review_reject(actor=request.user, payment_id=p.pk, reason=reason),
        )
        return None

    @admin.action(description="Escalate the selected items to the senior queue", permissions=["escalate"])
    def escalate(self, request, queryset):
        reason, ask = self._reason_or_ask(request, queryset, "escalate", "Escalate payments: give the reason")
        if ask is not None:
            return ask
        self._each(
            request,
            queryset,
            "Escalated",
            lambda p: services.review_escalate(actor=request.user, payment_id=p.pk, reason=reason),
        )
        return None

    @admin.action(description="Approve the selected low-risk items in bulk", permissions=["bulk_approve"])
    def bulk_approve_low_risk(self, request, queryset):
        ids = list(queryset.order_by("pk").values_list("pk", flat=True))
        result = services.review_bulk_approve(
            actor=request.user, payment_ids=ids, reason=request.POST.get("reason", "").strip()
        )
        approved, skipped = result["approved"], result["skipped"]
        if approved:
            messages.success(request, f"Approved {len(approved)}: {', '.join(f'#{pk}' for pk in approved)}.")
        else:
            messages.warning(request, "Approved none.")
        for pk, why in list(skipped.items())[:20]:
            messages.warning(request, f"Skipped #{pk}: {why}")
        if len(skipped) > 20:
            messages.warning(request, f"… and {len(skipped) - 20} more skipped.")

    # --- the payment page: buttons and side panel --------------------------------------
    def get_urls(self):
        return [
            path(
                "<path:object_id>/step/<slug:step>/",
                self.admin_site.admin_view(require_POST(self.step_view)),
                name="payments_payment_step",
            ),
            *super().get_urls(),
        ]

    def _steps_for(self, request, payment: Payment) -> list[str]:
        """The buttons that apply to this payment for this person (the services decide)."""
        mine = payment.claimed_by_id == request.user.pk
        wanted = []
        if payment.status in AWAITING_REVIEW:
            wanted.append("claim")
        if payment.status == Status.IN_REVIEW:
            if mine or request.user.has_perm("payments.review_senior_queue"):
                wanted.append("unclaim")
            if mine:
                wanted += ["approve", "reject"]
        if payment.status in UNDER_REVIEW and payment.queue != Queue.SENIOR:
            wanted.append("escalate")
        wanted += self.manual_steps_for(payment)
        return [step for step in wanted if self._allowed(request, STEPS[step][1])]

    @reauth_required(LARGE_WITHDRAWAL, when=_approving_large_withdrawal)
    def step_view(self, request, object_id, step):
        """One button of the payment page: the step's service, its refusal as a message."""
        if step not in STEPS or not self.has_view_permission(request):
            raise PermissionDenied
        payment = self.get_object(request, unquote(object_id))
        if payment is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        label, perm, _, call = STEPS[step]
        if not self._allowed(request, perm):
            raise PermissionDenied
        try:
            done = call(request.user, payment, request.POST.get("reason", "").strip())
        except DomainError as exc:
            messages.error(request, f"{label}: {exc.message}")
        else:
            messages.success(
                request, f"{label}: done; the payment is now {done.get_status_display().lower()}."
            )
        return HttpResponseRedirect(reverse("admin:payments_payment_change", args=[payment.pk]))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        payment = self.get_object(request, unquote(object_id)) if self.has_view_permission(request) else None
        if payment is not None:
            extra_context = {**(extra_context or {}), **self._review_context(request, payment)}
        return super().change_view(request, object_id, form_url, extra_context)

    def _review_context(self, request, payment: Payment) -> dict:
        player = payment.player
        currencies = {c.code: c for c in Currency.objects.all()}
        summary = selectors.player_payment_summary(player_id=player.pk)
        totals = [
            {
                **row,
                "completed_display": _money(row["completed"] or 0, currencies[row["currency_id"]]),
            }
            for row in summary["by_kind_currency"]
        ]
        recent = [
            {"payment": p, "amount": _money(p.amount, p.currency), "flags": ", ".join(p.flag_codes)}
            for p in selectors.player_payments_recent(player_id=player.pk, limit=10)
        ]
        visible = personal_data_visible(request.user, brand_id=payment.brand_id)
        if visible:
            # The review page shows the player's personal data unmasked: the access audit.
            personal_data_read_record(
                request=request,
                actor=request.user,
                players=[player],
                fields=PERSONAL_DATA_FIELDS,
                source="payments.admin.payment_review",
            )
        steps = [
            {
                "name": step,
                "label": STEPS[step][0],
                "reason": STEPS[step][2],
                "url": reverse("admin:payments_payment_step", args=[payment.pk, step]),
            }
            for step in self._steps_for(request, payment)
        ]
        return {
            "review_steps": steps,
            "player_info": player,
            "player_personal": [
                (name.replace("_", " ").capitalize(), value)
                for name, value in player_personal_data(player, visible=visible).items()
            ],
            "personal_visible": visible,
            "player_totals": totals,
            "player_flagged": summary["flagged"],
            "player_recent": recent,
            "staff_settled": staff_settled(payment),
        }

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "queue_view": _queue_view(request)}
        if extra_context["queue_view"]:
            # Live: new flagged items appear, claimed ones show who, decided ones leave.
            extra_context.update(live_page_context(request.user, "queue"))
        return super().changelist_view(request, extra_context)


# --- review policies ------------------------------------------------------------------------


def _amounts_by_currency(value) -> dict:
    """{"GBP": "1700.00"}: each amount a positive decimal string exact in its currency."""
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise forms.ValidationError('Give a mapping of currency to amount, e.g. {"GBP": "1700.00"}.')
    exponents = dict(Currency.objects.filter(code__in=list(value)).values_list("code", "exponent"))
    errors = []
    for code, amount in value.items():
        if code not in exponents:
            errors.append(f"{code}: not a known currency code.")
            continue
        if not isinstance(amount, str):
            errors.append(f'{code}: write the amount as a decimal string, e.g. "1700.00" (got {amount!r}).')
            continue
        try:
            minor = decimal_to_minor(amount.strip(), currency_exponent=exponents[code])
        except AmountNotExact as exc:
            errors.append(f"{code}: {exc.message}")
            continue
        if minor <= 0:
            errors.append(f"{code}: the amount must be positive.")
    if errors:
        raise forms.ValidationError(errors)
    return {code: amount.strip() for code, amount in value.items()}


class ReviewPolicyForm(forms.ModelForm):
    class Meta:
        model = ReviewPolicy
        fields = [
            "brand",
            "amount_thresholds",
            "four_eyes_above",
            "review_first_withdrawal",
            "review_kyc_not_verified",
            "review_method_mismatch",
            "no_play_window_hours",
            "min_play_ratio",
            "new_account_days",
            "velocity_count",
            "velocity_minutes",
            "low_risk_flags",
            "sla_minutes",
            "senior_sla_minutes",
        ]
        help_texts = {
            "amount_thresholds": 'At or above, a payment is reviewed: {"GBP": "1700.00", "EUR": "2000.00"}.',
            "four_eyes_above": 'Above, a withdrawal needs two approvals: {"GBP": "1000.00"}.',
            "low_risk_flags": "Flags that still allow bulk approval (empty: none), e.g. "
            '["first_withdrawal", "new_payment_account"]. Known: ' + ", ".join(FLAG_LABELS) + ".",
        }

    def clean_amount_thresholds(self):
        return _amounts_by_currency(self.cleaned_data.get("amount_thresholds"))

    def clean_four_eyes_above(self):
        return _amounts_by_currency(self.cleaned_data.get("four_eyes_above"))

    def clean_low_risk_flags(self):
        value = self.cleaned_data.get("low_risk_flags")
        if value in (None, ""):
            return []
        if not isinstance(value, list) or not all(isinstance(code, str) for code in value):
            raise forms.ValidationError('Give a list of flag codes, e.g. ["first_withdrawal"].')
        unknown = [code for code in value if code not in FLAG_LABELS]
        if unknown:
            raise forms.ValidationError(f"Unknown flag code(s): {', '.join(unknown)}.")
        return value


@admin.register(ReviewPolicy)
class ReviewPolicyAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """A brand's review rules (brand admins); a brand without one uses the defaults."""

    scoping_selector = staticmethod(selectors.review_policies_visible_to)
    form = ReviewPolicyForm
    list_display = [
        "brand",
        "amount_thresholds",
        "four_eyes_above",
        "sla_minutes",
        "senior_sla_minutes",
        "low_risk_flags",
        "updated_at",
    ]
    list_filter = [("brand", BrandListFilter)]
    list_select_related = ["brand"]
    ordering = ["brand__name"]

    def get_readonly_fields(self, request, obj=None):
        # A policy belongs to its brand for good; "updated_at" is set on save.
        return ["brand", "updated_at"] if obj is not None else ["updated_at"]

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        obj.updated_at = timezone.now()
        super().save_model(request, obj, form, change)


# --- incidents ------------------------------------------------------------------------------


class ResolvedFilter(admin.SimpleListFilter):
    title = "resolved"
    parameter_name = "resolved"

    def lookups(self, request, model_admin):
        return [("no", "Open"), ("yes", "Resolved")]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(resolved_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


@admin.register(PaymentIncident)
class PaymentIncidentAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    """What providers did that a person must look at; "mark resolved" once looked at."""

    scoping_selector = staticmethod(selectors.incidents_visible_to)
    list_display = ["id", "created_at", "brand", "provider", "code", "payment", "resolved_at", "resolved_by"]
    list_filter = [ResolvedFilter, ("brand", BrandListFilter), "code", "provider"]
    list_select_related = ["brand", "payment", "resolved_by"]
    ordering = ["-created_at"]
    fields = ["brand", "provider", "code", "payment", "detail", "created_at", "resolved_at", "resolved_by"]
    readonly_fields = fields
    actions = ["mark_resolved"]

    def has_resolve_permission(self, request):
        return request.user.has_perm("payments.change_paymentincident")

    @admin.action(description="Mark the selected incidents resolved", permissions=["resolve"])
    def mark_resolved(self, request, queryset):
        done, refused = 0, []
        for incident in queryset.order_by("pk"):
            try:
                services.incident_resolve(actor=request.user, incident_id=incident.pk)
                done += 1
            except DomainError as exc:
                refused.append(f"#{incident.pk}: {exc.message}")
        if done:
            messages.success(request, f"{done} incident(s) resolved.")
        for line in refused[:20]:
            messages.error(request, line)


from apps.payments.providers.paymentiq.admin import PaymentIQIntegrationAdmin  # noqa: E402,F401 - registers it
