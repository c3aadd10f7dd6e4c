"""The wallet in the staff UI: read-only ledger, adjustments with four eyes, reconciliation."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Sum

from apps.core.exceptions import DomainError
from apps.core.money import AmountNotExact, decimal_to_minor, money_format
from apps.tenants.admin_scoping import BrandListFilter, ReadOnlyAdminMixin, ScopedAdminMixin
from apps.wallet import selectors, services
from apps.wallet.models import (
    AdjustmentRequest,
    HouseAccount,
    LedgerEntry,
    LedgerTransaction,
    ReconciliationMismatch,
    ReconciliationRun,
    Wallet,
)


def _money(minor: int, currency) -> str:
    return money_format(minor, currency_exponent=currency.exponent, currency_code=currency.code)


class AdjustmentActionForm(helpers.ActionForm):
    amount = forms.DecimalField(
        required=False, max_digits=20, decimal_places=8, help_text="Signed: 25.00 credits, -25.00 debits."
    )
    reason = forms.CharField(required=False, max_length=500)


@admin.register(Wallet)
class WalletAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    scoping_selector = staticmethod(selectors.wallets_visible_to)
    list_display = [
        "id",
        "player",
        "brand",
        "currency",
        "cash_display",
        "bonus_display",
        "reserved_display",
        "debt_display",
    ]
    list_filter = [("brand", BrandListFilter), "currency"]
    list_select_related = ["player", "brand", "currency"]
    search_fields = ["=id", "=player__id", "player__username"]
    show_full_result_count = False
    action_form = AdjustmentActionForm
    actions = ["request_adjustment"]
    readonly_fields = [
        "player",
        "brand",
        "currency",
        "cash_display",
        "bonus_display",
        "reserved_display",
        "debt_display",
        "version",
        "created_at",
    ]
    fields = readonly_fields

    @admin.display(description="Cash")
    def cash_display(self, obj):
        return _money(obj.cash, obj.currency)

    @admin.display(description="Bonus")
    def bonus_display(self, obj):
        return _money(obj.bonus, obj.currency)

    @admin.display(description="Reserved")
    def reserved_display(self, obj):
        return _money(obj.reserved, obj.currency)

    @admin.display(description="Debt")
    def debt_display(self, obj):
        return _money(obj.debt, obj.currency)

    def has_adjust_permission(self, request):
        return request.user.has_perm("wallet.adjust_balance")

    @admin.action(
        description="Adjust the balance of the selected wallet (amount and reason below)",
        permissions=["adjust"],
    )
    def request_adjustment(self, request, queryset):
        wallets = list(queryset.select_related("currency")[:2])
        if len(wallets) != 1:
            messages.error(request, "Select exactly one wallet to adjust.")
            return
        wallet = wallets[0]
        raw = request.POST.get("amount", "").strip()
        try:
            amount = decimal_to_minor(raw or "0", currency_exponent=wallet.currency.exponent)
            adjustment = services.adjustment_request(
                actor=request.user, wallet=wallet, amount=amount, reason=request.POST.get("reason", "")
            )
        except (DomainError, AmountNotExact) as exc:
            messages.error(request, exc.message)
            return
        if adjustment.status == AdjustmentRequest.Status.APPLIED:
            messages.success(request, f"Applied: {_money(amount, wallet.currency)} to wallet #{wallet.pk}.")
        else:
            messages.warning(
                request,
                f"Adjustment #{adjustment.pk} is above the threshold and awaits a second person's approval.",
            )


class EntryInline(admin.TabularInline):
    model = LedgerEntry
    fields = ["wallet", "bucket", "house_account", "amount"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    scoping_selector = staticmethod(selectors.ledger_transactions_visible_to)
    list_display = [
        "id",
        "created_at",
        "kind",
        "wallet",
        "amount_display",
        "source",
        "external_id",
        "round_ref",
        "actor",
    ]
    list_filter = ["kind", ("brand", BrandListFilter), "source"]
    list_select_related = ["currency", "wallet"]
    search_fields = [
        "=id",
        "=external_id",
        "=wallet__id",
        "=wallet__player__id",
        "=round_ref",
        "=payment_ref",
        "=correlation_id",
    ]
    show_full_result_count = False
    inlines = [EntryInline]
    fields = [
        "kind",
        "wallet",
        "brand",
        "amount_display",
        "source",
        "external_id",
        "round_ref",
        "game_ref",
        "payment_ref",
        "reverses",
        "actor",
        "correlation_id",
        "metadata",
        "created_at",
    ]
    readonly_fields = fields

    @admin.display(description="Amount")
    def amount_display(self, obj):
        return _money(obj.amount, obj.currency)


@admin.register(HouseAccount)
class HouseAccountAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    """House balances are derived: the sum of their entries (no row is updated per bet)."""

    scoping_selector = staticmethod(selectors.house_accounts_visible_to)
    list_display = ["brand", "currency", "kind", "balance_display"]
    list_filter = [("brand", BrandListFilter), "kind", "currency"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("brand", "currency")
            .annotate(balance=Sum("entries__amount"))
        )

    @admin.display(description="Balance (sum of entries)")
    def balance_display(self, obj):
        return _money(obj.balance or 0, obj.currency)


class AdjustmentDecisionForm(helpers.ActionForm):
    reason = forms.CharField(required=False, max_length=500, help_text="Required to reject.")


@admin.register(AdjustmentRequest)
class AdjustmentRequestAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    scoping_selector = staticmethod(selectors.adjustments_visible_to)
    list_display = [
        "id",
        "wallet",
        "amount",
        "status",
        "reason",
        "requested_by",
        "requested_at",
        "decided_by",
    ]
    list_filter = ["status", ("brand", BrandListFilter)]
    list_select_related = ["wallet", "requested_by", "decided_by"]
    action_form = AdjustmentDecisionForm
    actions = ["approve", "reject"]

    def has_decide_permission(self, request):
        return request.user.has_perm("wallet.approve_adjustment")

    def _decide(self, request, queryset, decide) -> None:
        done = 0
        for adjustment in queryset:
            try:
                decide(adjustment)
                done += 1
            except DomainError as exc:
                messages.error(request, f"#{adjustment.pk}: {exc.message}")
        if done:
            messages.success(request, f"{done} adjustment(s) decided.")

    @admin.action(description="Approve (and apply) selected adjustments", permissions=["decide"])
    def approve(self, request, queryset):
        self._decide(
            request, queryset, lambda a: services.adjustment_approve(actor=request.user, adjustment=a)
        )

    @admin.action(description="Reject selected adjustments (reason below)", permissions=["decide"])
    def reject(self, request, queryset):
        reason = request.POST.get("reason", "").strip()
        if not reason:
            messages.error(request, "A reason is required to reject.")
            return
        self._decide(
            request,
            queryset,
            lambda a: services.adjustment_reject(actor=request.user, adjustment=a, reason=reason),
        )


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Runs hold only counts; what they found is listed, brand-scoped, under mismatches."""

    list_display = [
        "id",
        "started_at",
        "finished_at",
        "wallets_checked",
        "transactions_checked",
        "mismatches",
    ]


@admin.register(ReconciliationMismatch)
class ReconciliationMismatchAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    scoping_selector = staticmethod(selectors.mismatches_visible_to)
    list_display = ["id", "run", "kind", "brand", "wallet", "transaction", "bucket", "expected", "actual"]
    list_filter = ["kind", ("brand", BrandListFilter)]
