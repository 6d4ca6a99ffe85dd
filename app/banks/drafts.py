"""Drafts: a published version copied, edited question by question, published anew.

Services only flush. A draft's questions are always valid: each save is checked against
every rule of the bank format before it is kept.
"""

from dataclasses import dataclass
from datetime import date, datetime

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import service as audit_service
from app.banks import service as banks_service
from app.banks.format import (
    BankDocument,
    BankFileError,
    BankIssue,
    validate_marked,
    version_key,
)
from app.banks.freshness import StaleItem, expired_before
from app.banks.models import BankDraft, BankVersion
from app.yamlmarks import MarkedData, load_marked

NEW_QUESTION = """\
id: nouvelle-question
type: single_choice
topic: {topic}
difficulty: 2
stem: |
  Énoncé de la question.
options:
  - id: a
    text: Bonne réponse
    correct: true
  - id: b
    text: Distracteur
explanation: |
  Pourquoi la bonne réponse l'est, et pourquoi chaque distracteur ne l'est pas.
references:
  - label: Code monétaire et financier, art. …
"""


class DraftError(Exception):
    """A refusal whose message is shown as is."""


def question_yaml(question: dict) -> str:
    """One question as YAML, keys in the order of the format's documentation."""
    return yaml.safe_dump(question, allow_unicode=True, sort_keys=False, width=100)


def create_draft(
    *, session: Session, bank_id: str, version: str, actor: str, now: datetime
) -> BankDraft:
    source = banks_service.get_document(session=session, bank_id=bank_id, version=version)
    draft = BankDraft(
        bank_id=bank_id,
        base_version=version,
        content=source.model_dump(mode="json"),
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    session.add(draft)
    session.flush()
    return draft


def get_draft(*, session: Session, draft_id: int) -> BankDraft:
    draft = session.get(BankDraft, draft_id)
    if draft is None:
        raise DraftError("Brouillon introuvable.")
    return draft


def drafts_of(*, session: Session, bank_id: str) -> list[BankDraft]:
    return list(
        session.scalars(
            select(BankDraft).where(BankDraft.bank_id == bank_id).order_by(BankDraft.id.desc())
        )
    )


def check_question(
    content: dict, *, index: int | None, text: str, catalog
) -> tuple[dict, list[BankIssue]]:
    """The question written in ``text`` checked inside the draft, lines counted in ``text``.

    ``index`` is the position of the question being edited (None for a new one).
    """
    marked = load_marked(text)
    if marked.problems or not isinstance(marked.data, dict):
        problems = marked.problems or [(1, "une question est un dictionnaire de clés")]
        return {}, [BankIssue("question", line, message) for line, message in problems]
    questions = list(content["questions"])
    position = len(questions) if index is None else index
    if index is None:
        questions.append(marked.data)
    else:
        questions[index] = marked.data
    data = {**content, "questions": questions}
    lines = {("questions", position, *path): line for path, line in marked.lines.items()}
    try:
        document = validate_marked(
            MarkedData(data=data, lines=lines), filename="question", catalog=catalog
        )
    except BankFileError as error:  # the other questions are valid: the issues are this one's
        return {}, error.issues
    return document.model_dump(mode="json")["questions"][position], []


def save_question(
    *, session: Session, draft: BankDraft, index: int | None, text: str, catalog, now: datetime
) -> dict:
    question, issues = check_question(draft.content, index=index, text=text, catalog=catalog)
    if issues:
        raise BankFileError(issues)
    questions = list(draft.content["questions"])
    if index is None:
        questions.append(question)
    else:
        questions[index] = question
    draft.content = {**draft.content, "questions": questions}
    draft.updated_at = now
    session.flush()
    return question


def delete_question(*, session: Session, draft: BankDraft, index: int, now: datetime) -> None:
    questions = list(draft.content["questions"])
    if not 0 <= index < len(questions):
        raise DraftError("Question introuvable dans le brouillon.")
    if len(questions) == 1:
        raise DraftError("Une banque garde au moins une question.")
    del questions[index]
    draft.content = {**draft.content, "questions": questions}
    draft.updated_at = now
    session.flush()


@dataclass(frozen=True)
class Published:
    version: BankVersion
    expired: list[StaleItem]


def publish(
    *,
    session: Session,
    draft: BankDraft,
    version: str,
    summary: str,
    today: date,
    catalog,
    actor: str,
    now: datetime,
) -> Published:
    """Validate the whole draft as a new version with its changelog entry, then store it."""
    summary = summary.strip()
    if not summary:
        raise DraftError("Le journal des modifications est obligatoire : décrivez ce qui change.")
    existing = [
        v.version for v in banks_service.versions_of(session=session, bank_id=draft.bank_id)
    ]
    latest = max(existing, key=version_key) if existing else None
    try:
        newer = latest is None or version_key(version) > version_key(latest)
    except ValueError:
        raise DraftError(f"Version invalide « {version} » : attendu AAAA.N.") from None
    if not newer:
        raise DraftError(f"La nouvelle version doit dépasser la dernière publiée ({latest}).")
    content = {
        **draft.content,
        "version": version,
        "changelog": [
            {"version": version, "date": today.isoformat(), "summary": summary},
            *draft.content["changelog"],
        ],
    }
    try:
        document = validate_marked(MarkedData(data=content), filename="brouillon", catalog=catalog)
    except BankFileError as error:
        raise DraftError("; ".join(issue.message for issue in error.issues)) from None
    outcome = banks_service.import_document(
        session=session, document=document, source=f"brouillon {draft.id} ({actor})", now=now
    )
    audit_service.record(
        session=session,
        action="bank.publish",
        target=f"bank:{draft.bank_id}",
        now=now,
        actor=actor,
        details={"version": version, "draft": draft.id, "sha256": document.content_sha256()},
    )
    session.delete(draft)
    session.flush()
    return Published(outcome.version, expired_before(outcome.version.content, day=today))


def document_of(draft: BankDraft) -> BankDocument:
    return BankDocument.model_validate(draft.content)
