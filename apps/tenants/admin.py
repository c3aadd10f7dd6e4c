import copy

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied

from apps.core.exceptions import DomainError
from apps.security.interface import OTP_RESET_PERMISSION, otp_devices_reset, second_factor_enrolled
from apps.tenants import services
from apps.tenants.admin_scoping import ScopedAdminMixin
from apps.tenants.models import Brand, Operator, StaffUser
from apps.tenants.roles import ROLES
from apps.tenants.selectors import (
    brand_ids_granted_to,
    brands_visible_to,
    operators_administered_by,
    operators_visible_to,
    staff_visible_to,
)


@admin.register(Operator)
class OperatorAdmin(ScopedAdminMixin, admin.ModelAdmin):
    scoping_selector = staticmethod(operators_visible_to)
    list_display = ["name", "code", "legal_name", "active"]
    search_fields = ["name", "code", "legal_name"]

    def has_add_permission(self, request):
        # New legal entities are platform onboarding, not operator self-service.
        return request.user.is_superuser


class BrandForm(forms.ModelForm):
    # The jurisdictions are the loaded compliance packs, checked here rather than by model
    # choices, so that a new pack needs no migration.
    jurisdiction = forms.ChoiceField(choices=())

    class Meta:
        model = Brand
        fields = ["operator", "code", "name", "jurisdiction", "currencies", "default_currency", "active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from apps.compliance.packs import jurisdiction_choices

        if "jurisdiction" in self.fields:
            self.fields["jurisdiction"].choices = [("", "---------"), *jurisdiction_choices()]
            self.fields["jurisdiction"].help_text = Brand._meta.get_field("jurisdiction").help_text


class JurisdictionListFilter(admin.SimpleListFilter):
    title = "jurisdiction"
    parameter_name = "jurisdiction"

    def lookups(self, request, model_admin):
        from apps.compliance.packs import jurisdiction_choices

        return jurisdiction_choices()

    def queryset(self, request, queryset):
        return queryset.filter(jurisdiction=self.value()) if self.value() else queryset


@admin.register(Brand)
class BrandAdmin(ScopedAdminMixin, admin.ModelAdmin):
    scoping_selector = staticmethod(brands_visible_to)
    form = BrandForm
    list_display = ["name", "code", "operator", "jurisdiction", "active"]
    list_filter = [JurisdictionListFilter, "active"]
    search_fields = ["name", "code"]
    filter_horizontal = ["currencies"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "operator" and not request.user.is_superuser:
            kwargs["queryset"] = operators_administered_by(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        # A brand never moves between operators, and its code is its public identity.
        return ["operator", "code", "jurisdiction"] if obj is not None else []


class StaffUserForm(UserChangeForm):
    brands = forms.ModelMultipleChoiceField(
        queryset=Brand.objects.none(),
        required=False,
        widget=admin.widgets.FilteredSelectMultiple("brands", is_stacked=False),
        help_text="Brands this person may access (only your own brands are listed).",
    )

    class Meta(UserChangeForm.Meta):
        model = StaffUser


@admin.register(StaffUser)
class StaffUserAdmin(ScopedAdminMixin, UserAdmin):
    """Operator admins manage their own operator's staff: roles and brand access only."""

    scoping_selector = staticmethod(staff_visible_to)
    form = StaffUserForm
    list_display = ["username", "email", "operator", "is_active", "second_factor", "roles"]
    list_filter = ["is_active", "groups"]
    search_fields = ["username", "email", "first_name", "last_name"]
    actions = ["reset_second_factor"]

    def has_reset_otp_permission(self, request):
        return request.user.has_perm(OTP_RESET_PERMISSION)

    @admin.action(
        description="Reset the second factor (they set it up again at their next sign-in)",
        permissions=["reset_otp"],
    )
    def reset_second_factor(self, request, queryset):
        done, refused = [], []
        for staff in queryset.order_by("username"):
            try:
                otp_devices_reset(actor=request.user, staff=staff)
                done.append(staff.username)
            except DomainError as exc:
                refused.append(f"{staff.username}: {exc.message}")
        if done:
            messages.success(request, f"Second factor reset: {', '.join(done)}.")
        for line in refused[:20]:
            messages.error(request, line)

    @admin.display(description="Roles")
    def roles(self, obj):
        return ", ".join(g.name for g in obj.groups.all())

    @admin.display(description="Second factor", boolean=True)
    def second_factor(self, obj):
        """Set up (an authenticator app confirmed): who has not enrolled yet, or was reset."""
        return obj.has_second_factor

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related("groups")
            .annotate(has_second_factor=second_factor_enrolled())
        )

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            if request.user.is_superuser:
                return super().get_fieldsets(request, obj)
            # Operator admins may only create their own operator's staff (save_model refuses
            # anyone without an operator), so the add form must ask for it.
            return [*super().get_fieldsets(request, obj), ("Access", {"fields": ["operator"]})]
        access = ("Access", {"fields": ["operator", "groups", "brands"]})
        if request.user.is_superuser:
            return [
                (None, {"fields": ["username", "password"]}),
                ("Personal info", {"fields": ["first_name", "last_name", "email"]}),
                ("Status", {"fields": ["is_active", "is_staff", "is_superuser", "user_permissions"]}),
                access,
                ("Dates", {"fields": ["last_login", "date_joined"]}),
            ]
        return [
            (None, {"fields": ["username"]}),
            ("Personal info", {"fields": ["first_name", "last_name", "email"]}),
            ("Status", {"fields": ["is_active", "is_staff"]}),
            access,
        ]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if "brands" in form.base_fields:
            # A copy for this form class: the declared field object is shared by every form
            # class made from StaffUserForm, i.e. by every request.
            form.base_fields["brands"] = copy.deepcopy(form.base_fields["brands"])
            form.base_fields["brands"].queryset = brands_visible_to(request.user)
            if obj is not None:
                form.base_fields["brands"].initial = list(
                    brands_visible_to(request.user).filter(pk__in=brand_ids_granted_to(obj))
                )
        if "groups" in form.base_fields and not request.user.is_superuser:
            form.base_fields["groups"].queryset = Group.objects.filter(name__in=ROLES)
        if "operator" in form.base_fields and not request.user.is_superuser:
            form.base_fields["operator"].queryset = operators_administered_by(request.user)
            form.base_fields["operator"].required = True
        return form

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        # Staff are deactivated, never deleted: the audit trails name them, and the database
        # refuses the SET NULL a delete would write into auditlog's append-only rows
        # (security migration 0003).
        return False

    def get_readonly_fields(self, request, obj=None):
        # Nobody widens their own access: roles and brands of one's own account are
        # changed by another administrator (four eyes on privilege).
        if obj is not None and obj.pk == request.user.pk and not request.user.is_superuser:
            return ["operator", "groups", "brands", "is_active", "is_staff"]
        return super().get_readonly_fields(request, obj)

    def save_model(self, request, obj, form, change):
        if not request.user.is_superuser and (obj.is_superuser or not obj.operator_id):
            raise PermissionDenied("Only a superuser may create platform staff.")
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if "brands" not in form.cleaned_data:
            return
        try:
            granted, revoked = services.staff_brands_set(
                actor=request.user, staff=form.instance, brands=form.cleaned_data["brands"]
            )
        except DomainError as exc:
            messages.error(request, exc.message)
            return
        if granted or revoked:
            messages.info(request, f"Brand access: {len(granted)} granted, {len(revoked)} revoked.")
