from apps.core.exceptions import DomainError, PermissionDenied


class TenantsError(DomainError):
    code = "tenants_error"


class AccessDenied(PermissionDenied):
    code = "access_denied"
