"""Time as users read it: the server's UTC instants shown in Paris time. Pure."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


def paris_date(moment: datetime) -> date:
    """The calendar day in France at ``moment`` (question validity is per French day)."""
    return moment.astimezone(PARIS).date()


def paris_datetime(moment: datetime) -> str:
    """« 28/11/2026 à 14:05 »."""
    return moment.astimezone(PARIS).strftime("%d/%m/%Y à %H:%M")


def paris_time(moment: datetime) -> str:
    """« 14:05:09 »."""
    return moment.astimezone(PARIS).strftime("%H:%M:%S")
