"""Fixtures of a small exam (loaded by tests/conftest.py).

The sample bank with a blueprint, an open session, an enrolled candidate.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from app.banks import service as banks_service
from app.banks.format import ThemeCatalog, parse_bank_bytes
from app.dependencies import get_now
from app.referential.model import default_referential
from app.sessions import service as sessions_service
from tests.banks.samples import VALID_BANK

BLUEPRINT = """\
blueprint:
  title: Questionnaire d'essai
  item_count: 3
  duration_minutes: 20
  review: correction
  review_from: session_close
  quotas:
    bareme: 2
    epargne: 1
"""
# q-nombre (epargne) ended on 2026-06-30: on the exam day epargne has q-multiple only.
EXAM_BANK = VALID_BANK.replace("questions:\n", BLUEPRINT + "questions:\n", 1)
OPENS = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
CLOSES = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class Exam:
    session_id: int
    questionnaire_id: int
    enrolment_id: int


@pytest.fixture
def clock(web_app) -> Clock:
    clock = Clock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    web_app.dependency_overrides[get_now] = lambda: clock.now
    return clock


def import_bank(db, text: str = EXAM_BANK):
    catalog = ThemeCatalog.from_referential(default_referential())
    document = parse_bank_bytes(text.encode(), filename="b", catalog=catalog, max_bytes=10**6)
    return banks_service.import_document(
        session=db, document=document, source="b", now=OPENS
    ).version


@pytest.fixture
def exam(db, make_user) -> Exam:
    version = import_bank(db)
    exam_session = sessions_service.create_session(
        session=db, name="Session de test", opens_at=OPENS, closes_at=CLOSES
    )
    questionnaire = sessions_service.add_questionnaire(
        session=db,
        exam=exam_session,
        bank_version=version,
        override_reason="q-nombre a expiré le 30/06/2026 : elle n'est plus tirée.",
        now=OPENS,
    )
    alice = make_user("alice", "candidat")
    enrolment = sessions_service.enrol(
        session=db, exam=exam_session, user=alice, candidate_number="C-001"
    )
    db.commit()
    return Exam(exam_session.id, questionnaire.id, enrolment.id)


def login(client, login: str = "alice") -> str:
    response = client.post("/api/v1/auth/login", json={"login": login, "password": "secret-pass"})
    assert response.status_code == 200
    token = response.json()["token"]
    client.cookies.clear()
    client.headers["Authorization"] = f"Bearer {token}"
    return token


@pytest.fixture
def candidate(client, exam, clock):
    """The client, logged in as the enrolled candidate (bearer token)."""
    login(client)
    return client


def timeless_bank() -> str:
    """The exam bank with validity dates far ahead, for tests that run on the real clock."""
    return EXAM_BANK.replace("valid_until: 2026-12-31", "valid_until: 2099-12-31").replace(
        "valid_until: 2026-06-30", "valid_until: 2099-06-30"
    )
