"""Events the tenancy domain publishes."""

from dataclasses import dataclass
from typing import ClassVar

from apps.core.events import DomainEvent


@dataclass(frozen=True)
class StaffAccessChanged(DomainEvent):
    event_type: ClassVar[str] = "tenants.staff_access_changed"
    staff_user_id: int
    scope: str  # "brand" or "operator"
    scope_id: int
    granted: bool
    brand_id: int | None = None
