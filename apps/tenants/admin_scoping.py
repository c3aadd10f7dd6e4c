"""Admin building blocks that make every changelist, form, filter and lookup brand-scoped.

Every ModelAdmin of tenant-owned data inherits ScopedAdminMixin and names its scoping
selector; get_queryset (and with it the changelist, counts, detail pages, history,
deletes and autocomplete) goes through that selector, and brand choices in forms and
filters only list the user's own brands.
"""

from collections.abc import Callable

from django.contrib import admin
from django.db.models import QuerySet

from apps.tenants.models import Brand
from apps.tenants.selectors import brands_visible_to


class ScopedAdminMixin:
    """`scoping_selector(user) -> QuerySet` decides what this admin can ever show."""

    scoping_selector: Callable[..., QuerySet]

    def get_queryset(self, request):
        qs = type(self).scoping_selector(request.user)
        ordering = self.get_ordering(request)
        if ordering:
            qs = qs.order_by(*ordering)
        return qs

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.related_model is Brand:
            kwargs["queryset"] = brands_visible_to(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.related_model is Brand:
            kwargs["queryset"] = brands_visible_to(request.user)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class BrandListFilter(admin.RelatedFieldListFilter):
    """A brand filter that lists only the user's brands (the stock one lists them all)."""

    def field_choices(self, field, request, model_admin):
        return [(b.pk, str(b)) for b in brands_visible_to(request.user).order_by("name")]

    def has_output(self):
        # Always shown, and so always applied: Django drops a filter without output and
        # ignores its parameter, so ?brand__id__exact=<another brand> would list the
        # user's own brand's rows under another brand's id.
        return True


class ReadOnlyAdminMixin:
    """For append-only records: visible to those with view permission, never editable."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
