from apps.core.exceptions import DomainError


class SecurityError(DomainError):
    code = "security_error"


class InvalidIpRule(SecurityError):
    code = "invalid_ip_rule"


class IpBlocked(SecurityError):
    code = "ip_blocked"
    http_status = 403
    default_message = "Requests from this address are refused."
