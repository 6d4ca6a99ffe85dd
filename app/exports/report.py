"""The data a session export carries, and its digest. Pure: no DB, no web.

``report_data`` is the one canonical, JSON-able form of a report; ``content_sha256`` hashes it
(sorted keys, no spaces, UTF-8), and every export format prints that digest, so any export
can be checked against the JSON one (remove its ``sha256`` key, hash the rest).
"""

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class QuestionnaireInfo:
    """A questionnaire of the session."""

    theme: str  # "fiscalite"
    title: str
    bank_id: str
    bank_version: str  # "2026.2"
    threshold_percent: Decimal


@dataclass(frozen=True)
class QuestionnaireResult:
    theme: str
    status: str  # "remis", "temps écoulé", "en cours", "non passé"
    points: Decimal | None
    max_points: Decimal | None
    percent: Decimal | None  # 2 decimals
    passed: bool | None


@dataclass(frozen=True)
class BlocResult:
    code: str  # "B1"
    title: str
    state: str  # "validé", "non validé", "en attente"


@dataclass(frozen=True)
class CandidateLine:
    candidate_number: str
    last_name: str | None  # None in the pseudonymised variant
    first_name: str | None
    questionnaires: tuple[QuestionnaireResult, ...]  # same order as SessionReport.questionnaires
    blocs: tuple[BlocResult, ...]
    certification: str  # "titre obtenu", "validation partielle", "non validé"
    validated_blocs: tuple[str, ...]


@dataclass(frozen=True)
class SessionReport:
    session_name: str
    opens_at: datetime
    closes_at: datetime
    generated_at: datetime
    deliberated: bool  # the jury locked the session
    questionnaires: tuple[QuestionnaireInfo, ...]
    candidates: tuple[CandidateLine, ...]

    def __post_init__(self) -> None:
        for name in ("opens_at", "closes_at", "generated_at"):
            if getattr(self, name).tzinfo is None:
                raise ValueError(f"{name} : date sans fuseau horaire refusée (UTC attendu)")
        themes = [questionnaire.theme for questionnaire in self.questionnaires]
        for candidate in self.candidates:
            if [result.theme for result in candidate.questionnaires] != themes:
                raise ValueError(
                    f"candidat {candidate.candidate_number} : les résultats doivent suivre "
                    f"les questionnaires de la session, dans l'ordre ({', '.join(themes)})"
                )


def pseudonymise(report: SessionReport) -> SessionReport:
    """The same report without any name: candidates keep only their number."""
    return replace(
        report,
        candidates=tuple(
            replace(candidate, last_name=None, first_name=None) for candidate in report.candidates
        ),
    )


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"nombre non fini refusé : {value}")
        return format(value, "f")  # « 72.50 » stays « 72.50 », never « 7.250E+1 »
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("date sans fuseau horaire refusée (UTC attendu)")
        return value.astimezone(UTC).isoformat()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def report_data(report: SessionReport) -> dict[str, Any]:
    """The report as plain JSON values: Decimal → "72.50", datetime → ISO 8601 in UTC."""
    return {
        "session_name": report.session_name,
        "opens_at": _plain(report.opens_at),
        "closes_at": _plain(report.closes_at),
        "generated_at": _plain(report.generated_at),
        "deliberated": report.deliberated,
        "questionnaires": [
            {
                "theme": questionnaire.theme,
                "title": questionnaire.title,
                "bank_id": questionnaire.bank_id,
                "bank_version": questionnaire.bank_version,
                "threshold_percent": _plain(questionnaire.threshold_percent),
            }
            for questionnaire in report.questionnaires
        ],
        "candidates": [
            {
                "candidate_number": candidate.candidate_number,
                "last_name": candidate.last_name,
                "first_name": candidate.first_name,
                "questionnaires": [
                    {
                        "theme": result.theme,
                        "status": result.status,
                        "points": _plain(result.points),
                        "max_points": _plain(result.max_points),
                        "percent": _plain(result.percent),
                        "passed": result.passed,
                    }
                    for result in candidate.questionnaires
                ],
                "blocs": [
                    {"code": bloc.code, "title": bloc.title, "state": bloc.state}
                    for bloc in candidate.blocs
                ],
                "certification": candidate.certification,
                "validated_blocs": list(candidate.validated_blocs),
            }
            for candidate in report.candidates
        ],
    }


def canonical_json(data: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8 (not ASCII-escaped): the bytes ``content_sha256`` hashes."""
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def content_sha256(report: SessionReport) -> str:
    """Hex SHA-256 of the canonical JSON of ``report_data(report)``: every export prints it."""
    return hashlib.sha256(canonical_json(report_data(report))).hexdigest()
