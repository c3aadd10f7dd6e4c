"""Audit trail helpers (django-auditlog is configured in settings)."""

MASK = "•••"


def mask_whole(value):
    """Mask a personal-data value in audit rows whole (auditlog's default keeps half).

    An empty value stays as it is, so the row still says "set" versus "changed".
    """
    if value in (None, "", "None"):
        return value
    return MASK
