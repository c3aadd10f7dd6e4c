"""Staff API permission: every action names the permission it needs; unnamed means denied."""

from rest_framework.permissions import BasePermission


class StaffActionPermission(BasePermission):
    """The view maps each action to a permission in `required_permissions`.

    Brand scoping is the queryset's job (the scoping selectors); this checks the "what".
    An action missing from the map is refused, so a new endpoint is closed until someone
    decides who may use it.
    """

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated and user.is_active and user.is_staff):
            return False
        required = getattr(view, "required_permissions", {}).get(getattr(view, "action", None))
        return bool(required) and user.has_perm(required)
