"""Template context for the staff UI: which brands the signed-in person is looking at."""

from django.conf import settings

from apps.tenants.selectors import brands_visible_to


def staff_scope(request) -> dict:
    user = getattr(request, "user", None)
    context = {"debug_banner": "development" if settings.DEBUG else ""}
    if user is None or not user.is_authenticated or not request.path.startswith("/admin/"):
        return context
    if user.is_superuser:
        context["pam_scope"] = "all brands (superuser)"
    else:
        names = list(brands_visible_to(user).order_by("name").values_list("name", flat=True)[:6])
        context["pam_scope"] = ", ".join(names) or "none — ask an operator admin for access"
    return context
