"""Usage reports for the account dashboard."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from svcs_di import Inject
from svcs_di.injectors import injectable

from src.services.user_service import UserService


@dataclass(frozen=True)
class UsageReport:
    user_id: str
    period_start: date
    period_end: date
    sessions: int
    tool_calls: int
    generated_at: datetime


@injectable
@dataclass
class MetricsCollector:
    """Counts sessions and tool calls per user.

    It also asks the report service for the last report so it can return
    deltas, which makes the two services depend on each other.
    """

    reports: Inject[ReportService]
    sessions: dict[str, int] = field(default_factory=dict)
    tool_calls: dict[str, int] = field(default_factory=dict)

    def record_session(self, user_id: str, tool_calls: int) -> None:
        self.sessions[user_id] = self.sessions.get(user_id, 0) + 1
        self.tool_calls[user_id] = self.tool_calls.get(user_id, 0) + tool_calls

    def delta_since_last_report(self, user_id: str) -> int:
        last = self.reports.latest(user_id)
        return self.tool_calls.get(user_id, 0) - (last.tool_calls if last else 0)


@injectable
@dataclass
class ReportService:
    """Builds :class:`UsageReport` objects from the collected metrics."""

    users: Inject[UserService]
    metrics: Inject[MetricsCollector]
    history: dict[str, list[UsageReport]] = field(default_factory=dict)

    def latest(self, user_id: str) -> UsageReport | None:
        reports = self.history.get(user_id)
        return reports[-1] if reports else None

    def monthly_report(self, user_id: str, month: date) -> UsageReport:
        if self.users.get(user_id) is None:
            raise LookupError(f"no user {user_id}")
        start = month.replace(day=1)
        end = start.replace(month=start.month % 12 + 1, year=start.year + start.month // 12)
        report = UsageReport(
            user_id=user_id,
            period_start=start,
            period_end=end,
            sessions=self.metrics.sessions.get(user_id, 0),
            tool_calls=self.metrics.tool_calls.get(user_id, 0),
            generated_at=datetime.now(UTC),
        )
        self.history.setdefault(user_id, []).append(report)
        return report
