from apps.core.exceptions import DomainError


class SecurityError(DomainError):
    code = "security_error"


class InvalidIpRule(SecurityError):
    code = "invalid_ip_rule"


class IpBlocked(SecurityError):
    code = "ip_blocked"
    http_status = 403
    default_message = "Requests from this address are refused."


class OtpError(SecurityError):
    code = "otp_invalid"
    default_message = "The code is not valid."


class ReauthFailed(SecurityError):
    code = "reauth_failed"
    http_status = 400
    default_message = "The password or the code is not valid."


class AccountLocked(SecurityError):
    code = "locked_out"
    http_status = 403
    default_message = "Too many failed attempts: the account is locked for now."
