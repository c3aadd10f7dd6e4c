"""No tables: the dashboards read the outbox (core_event) and the live counters (Redis).

`Dashboard` exists for its permission (`dashboards.view_dashboard`, held through roles) and
its place in the admin's index; it has no table.
"""

from django.db import models


class Dashboard(models.Model):
    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("view_dashboard", "Can view the live operations dashboard and alerts feed")]
        verbose_name = "live dashboard"

    def __str__(self) -> str:
        return "live dashboard"
