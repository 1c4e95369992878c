"""Route 53's view of the writer: GetHealthCheckStatus of the writer region's health check.

Route 53 is global, so this view survives the loss of the writer's region. Route 53 counts an
endpoint healthy when more than 18 % of its checkers report it healthy; the same rule is applied to
the observations here, so "unhealthy" means what DNS failover would act on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gdfailover.awscall import call

#: Route 53 considers a health check healthy when more than this share of checkers say so.
HEALTHY_CHECKER_SHARE = 0.18


@dataclass(frozen=True, slots=True)
class HealthCheckView:
    health_check_id: str
    healthy: bool | None  # None when no checker reported
    healthy_checkers: int
    checkers: int
    sample: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "health_check_id": self.health_check_id,
            "healthy": self.healthy,
            "healthy_checkers": self.healthy_checkers,
            "checkers": self.checkers,
            "sample": self.sample,
        }


class Route53HealthChecks:
    def __init__(self, client: Any) -> None:
        self._client = client

    def status(self, health_check_id: str) -> HealthCheckView:
        response = call("GetHealthCheckStatus", self._client.get_health_check_status, HealthCheckId=health_check_id)
        reports = [
            str((observation.get("StatusReport") or {}).get("Status", ""))
            for observation in response.get("HealthCheckObservations") or []
        ]
        return summarize_observations(health_check_id, reports)


def summarize_observations(health_check_id: str, reports: list[str]) -> HealthCheckView:
    """Each checker's report starts with ``Success`` or ``Failure``."""
    if not reports:
        return HealthCheckView(health_check_id, None, 0, 0)
    healthy = sum(1 for report in reports if report.startswith("Success"))
    failing = next((report for report in reports if not report.startswith("Success")), reports[0])
    return HealthCheckView(
        health_check_id=health_check_id,
        healthy=healthy / len(reports) > HEALTHY_CHECKER_SHARE,
        healthy_checkers=healthy,
        checkers=len(reports),
        sample=failing[:200],
    )
