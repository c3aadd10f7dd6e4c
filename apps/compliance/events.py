"""Events the compliance app publishes."""

from dataclasses import dataclass
from typing import ClassVar

from apps.core.events import DomainEvent


@dataclass(frozen=True)
class BrandRulesChanged(DomainEvent):
    event_type: ClassVar[str] = "compliance.brand_rules_changed"
    brand_id: int
    version: int
    overrides: dict
    reason: str
