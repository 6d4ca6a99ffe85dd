"""Regulatory freshness: items whose validity ended or ends soon. Pure: no DB, no web."""

from dataclasses import dataclass
from datetime import date, timedelta

EXPIRED, EXPIRING = "expirée", "expire bientôt"


@dataclass(frozen=True)
class StaleItem:
    question_id: str
    topic: str
    valid_until: date
    status: str  # EXPIRED or EXPIRING

    def describe(self) -> str:
        return f"{self.question_id} ({self.topic}) : {self.status} le {self.valid_until:%d/%m/%Y}"


def stale_items(content: dict, *, on_date: date, within_days: int) -> list[StaleItem]:
    """Questions of a stored bank content that expired before ``on_date`` or expire within
    ``within_days`` days, oldest first."""
    horizon = on_date + timedelta(days=within_days)
    found = []
    for question in content["questions"]:
        until = question.get("valid_until")
        if not until:
            continue
        day = date.fromisoformat(until)
        if day < on_date:
            found.append(StaleItem(question["id"], question["topic"], day, EXPIRED))
        elif day <= horizon:
            found.append(StaleItem(question["id"], question["topic"], day, EXPIRING))
    return sorted(found, key=lambda item: (item.valid_until, item.question_id))


def expired_before(content: dict, *, day: date) -> list[StaleItem]:
    """Questions no longer valid on ``day``."""
    return [
        item for item in stale_items(content, on_date=day, within_days=0) if item.status == EXPIRED
    ]
