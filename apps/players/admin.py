from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models.constants import LOOKUP_SEP
from django.http import HttpResponse
from django.utils import timezone

from apps.core.exceptions import DomainError
from apps.players import services
from apps.players.masking import MASK, personal_data_visible
from apps.players.models import PERSONAL_DATA_FIELDS, Player
from apps.players.selectors import players_visible_to
from apps.security.interface import personal_data_read_record, reauth_required
from apps.tenants.admin_scoping import BrandListFilter, ScopedAdminMixin


class PlayerActionForm(helpers.ActionForm):
    reason = forms.CharField(
        required=False, max_length=500, help_text="Required for status changes; kept on the record."
    )


def _masked_column(name: str, label: str, user):
    """A list column of a personal data field, masked unless `user` may see it.

    Made per request (get_list_display): the ModelAdmin instance is shared by every
    request, so it must not hold the user (ASGI renders a response after other requests'
    views have run; threaded servers run them side by side).
    """

    visible_by_brand: dict[int, bool] = {}

    @admin.display(description=label)
    def column(obj):
        if obj.brand_id not in visible_by_brand:
            visible_by_brand[obj.brand_id] = personal_data_visible(user, brand_id=obj.brand_id)
        if visible_by_brand[obj.brand_id]:
            return getattr(obj, name)
        return MASK if getattr(obj, name) else ""

    column.__name__ = f"{name}_display"
    return column


@admin.register(Player)
class PlayerAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Players of the staff member's brands; personal data masked without permission."""

    scoping_selector = staticmethod(players_visible_to)
    action_form = PlayerActionForm
    actions = ["suspend", "reactivate", "close", "export_csv"]
    list_display = [
        "id",
        "username",
        "brand",
        "status",
        "kyc_status",
        "country",
        "email_display",
        "registered_at",
    ]
    list_filter = [("brand", BrandListFilter), "status", "kyc_status"]
    list_select_related = ["brand"]
    show_full_result_count = False
    date_hierarchy = None
    ordering = ["-id"]

    @admin.display(description="Email")
    def email_display(self, obj):
        # Fail-closed stand-in; get_list_display swaps in the column for the request's user.
        return MASK if obj.email else ""

    def get_list_display(self, request):
        email_display = _masked_column("email", "Email", request.user)
        return [email_display if column == "email_display" else column for column in self.list_display]

    def get_search_fields(self, request):
        # Without the personal-data permission a search must not become a way to test
        # whether a name or email belongs to a player.
        if request.user.has_perm("players.view_personal_data"):
            return ["=id", "username", "email", "last_name", "=national_id", "=mobile"]
        return ["=id", "username"]

    def lookup_allowed(self, lookup, value, request=None):
        # Hand-written filters (?email=..., ?national_id=...) are held to the same rule
        # as search: no testing whether someone is a player without seeing personal data.
        if lookup.split(LOOKUP_SEP, 1)[0] in PERSONAL_DATA_FIELDS and not (
            request is not None and request.user.has_perm("players.view_personal_data")
        ):
            return False
        return super().lookup_allowed(lookup, value, request)

    def get_fields(self, request, obj=None):
        base = [
            "brand",
            "username",
            "status",
            "status_reason",
            "kyc_status",
            "country",
            "currency",
            "marketing_opt_in",
            "registered_at",
            "last_login_at",
        ]
        if obj is not None and personal_data_visible(request.user, brand_id=obj.brand_id):
            return base + list(PERSONAL_DATA_FIELDS)
        return base + ["personal_data"]

    def get_readonly_fields(self, request, obj=None):
        locked = [
            "brand",
            "username",
            "status",
            "status_reason",
            "currency",
            "registered_at",
            "last_login_at",
            "personal_data",
        ]
        if obj is None or not request.user.has_perm("players.change_player"):
            return locked + ["kyc_status", "country", "marketing_opt_in", *PERSONAL_DATA_FIELDS]
        return locked

    @admin.display(description="Personal data")
    def personal_data(self, obj):
        return "Hidden: you do not hold the permission to view personal data."

    # --- the access audit: one record per page that showed personal data unmasked ------
    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        player = (getattr(response, "context_data", None) or {}).get("original")
        if (
            response.status_code == 200
            and isinstance(player, Player)
            and personal_data_visible(request.user, brand_id=player.brand_id)
        ):
            personal_data_read_record(
                request=request,
                actor=request.user,
                players=[player],
                fields=PERSONAL_DATA_FIELDS,
                source="players.admin.change",
            )
        return response

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = (getattr(response, "context_data", None) or {}).get("cl")
        if response.status_code == 200 and changelist is not None:
            # The page's rows (evaluated here, once: the template reuses them).
            rows = list(changelist.result_list)
            visible: dict[int, bool] = {}
            for brand_id in {p.brand_id for p in rows}:
                visible[brand_id] = personal_data_visible(request.user, brand_id=brand_id)
            shown = [p for p in rows if visible[p.brand_id] and p.email]
            if shown:
                # The list shows one personal field: the e-mail column.
                personal_data_read_record(
                    request=request,
                    actor=request.user,
                    players=shown,
                    fields=["email"],
                    source="players.admin.changelist",
                )
        return response

    def has_add_permission(self, request):
        return False  # players register themselves through the player API

    def has_delete_permission(self, request, obj=None):
        return False  # player records are kept for the regulator; closing is a status

    def save_model(self, request, obj, form, change):
        changes = {
            name: form.cleaned_data[name]
            for name in form.changed_data
            if name in services.STAFF_EDITABLE_FIELDS
        }
        if changes:
            fresh = Player.objects.get(pk=obj.pk)
            services.player_profile_update(actor=request.user, player=fresh, changes=changes)

    # --- actions -------------------------------------------------------------------
    def has_change_status_permission(self, request):
        return request.user.has_perm("players.change_player_status")

    def has_export_permission(self, request):
        return request.user.has_perm("players.export_players")

    def _status_action(self, request, queryset, transition: str) -> None:
        reason = request.POST.get("reason", "")
        done, refused = 0, []
        for player in queryset:
            try:
                services.player_status_change(
                    actor=request.user, player=player, transition=transition, reason=reason
                )
                done += 1
            except DomainError as exc:
                refused.append(f"{player.username}: {exc.message}")
        if done:
            messages.success(request, f"{done} player(s): {transition.replace('_', ' ')} done.")
        for line in refused[:20]:
            messages.error(request, line)

    @admin.action(description="Suspend selected players", permissions=["change_status"])
    def suspend(self, request, queryset):
        self._status_action(request, queryset, "suspend")

    @admin.action(description="Reactivate selected players", permissions=["change_status"])
    def reactivate(self, request, queryset):
        self._status_action(request, queryset, "reactivate")

    @admin.action(description="Close selected players' accounts", permissions=["change_status"])
    def close(self, request, queryset):
        self._status_action(request, queryset, "close")

    @admin.action(description="Export selected players (CSV)", permissions=["export"])
    @reauth_required("export personal data")
    def export_csv(self, request, queryset):
        try:
            body = services.players_export_csv(actor=request.user, players=queryset)
        except DomainError as exc:
            messages.error(request, exc.message)
            return None
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%dT%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="players-{stamp}.csv"'
        return response
