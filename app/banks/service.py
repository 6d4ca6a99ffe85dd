"""Importing bank versions and reading them back. Services only flush."""

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, selectinload

from app.banks.diff import BankDiff, diff_documents
from app.banks.format import (
    BankDocument,
    ThemeCatalog,
    canonical_json,
    parse_bank_file,
    version_key,
)
from app.banks.models import Bank, BankVersion, QuestionVersion
from app.referential.model import default_referential


class BankVersionConflict(Exception):
    """Other content under a version number already published."""


class BankNotFound(Exception):
    pass


@dataclass(frozen=True)
class ImportOutcome:
    status: Literal["created", "unchanged"]
    version: BankVersion


def default_catalog() -> ThemeCatalog:
    """What banks may refer to, from the certification's referential."""
    return ThemeCatalog.from_referential(default_referential())


def parse_file(path: Path, *, max_bytes: int) -> BankDocument:
    return parse_bank_file(path, catalog=default_catalog(), max_bytes=max_bytes)


def import_document(
    *, session: Session, document: BankDocument, source: str, now: datetime
) -> ImportOutcome:
    """Store ``document`` as an immutable version; identical content is a no-op."""
    digest = document.content_sha256()
    existing = session.scalar(
        select(BankVersion).where(
            BankVersion.bank_id == document.id, BankVersion.version == document.version
        )
    )
    if existing is not None:
        if existing.content_sha256 == digest:
            return ImportOutcome("unchanged", existing)
        raise BankVersionConflict(
            f"{source}: la version {document.version} de la banque « {document.id} » est déjà "
            "publiée avec un autre contenu : une version publiée ne change jamais, "
            "incrémentez « version » (et ajoutez une entrée au journal des modifications)."
        )
    bank = session.get(Bank, document.id)
    if bank is None:
        bank = Bank(id=document.id, title=document.title, theme=document.theme, created_at=now)
        session.add(bank)
    elif version_key(document.version) > max(
        (version_key(v) for v in _version_numbers(session, document.id)), default=(0,)
    ):
        bank.title, bank.theme = document.title, document.theme
    content = document.model_dump(mode="json")
    version = BankVersion(
        bank_id=document.id,
        version=document.version,
        title=document.title,
        content_sha256=digest,
        content=content,
        question_count=len(document.questions),
        valid_from=document.valid_from,
        valid_until=document.valid_until,
        source=source[-500:],
        imported_at=now,
    )
    session.add(version)
    session.flush()
    session.add_all(
        QuestionVersion(
            bank_version_id=version.id,
            question_id=question["id"],
            position=position,
            type=question["type"],
            topic=question["topic"],
            difficulty=question["difficulty"],
            content_sha256=hashlib.sha256(canonical_json(question).encode()).hexdigest(),
            content=question,
        )
        for position, question in enumerate(content["questions"])
    )
    session.flush()
    return ImportOutcome("created", version)


def _version_numbers(session: Session, bank_id: str) -> list[str]:
    return list(session.scalars(select(BankVersion.version).where(BankVersion.bank_id == bank_id)))


def list_banks(*, session: Session) -> list[tuple[Bank, list[BankVersion]]]:
    """Every bank with its versions, newest first."""
    banks = session.scalars(
        select(Bank).options(selectinload(Bank.versions)).order_by(Bank.id)
    ).all()
    return [
        (bank, sorted(bank.versions, key=lambda v: version_key(v.version), reverse=True))
        for bank in banks
    ]


def get_document(*, session: Session, bank_id: str, version: str) -> BankDocument:
    """The stored content of one bank version."""
    row = session.scalar(
        select(BankVersion).where(BankVersion.bank_id == bank_id, BankVersion.version == version)
    )
    if row is None:
        raise BankNotFound(f"la banque « {bank_id} » n'a pas de version {version}")
    return BankDocument.model_validate(row.content)


def diff_versions(*, session: Session, bank_id: str, old: str, new: str) -> BankDiff:
    return diff_documents(
        get_document(session=session, bank_id=bank_id, version=old),
        get_document(session=session, bank_id=bank_id, version=new),
    )


def question_history(*, session: Session, bank_id: str, question_id: str) -> list[tuple[str, str]]:
    """(version, content digest) of one question across the versions that contain it."""
    rows = session.execute(
        select(BankVersion.version, QuestionVersion.content_sha256)
        .join(QuestionVersion.bank_version)
        .where(BankVersion.bank_id == bank_id, QuestionVersion.question_id == question_id)
    ).all()
    return sorted(((v, d) for v, d in rows), key=lambda row: version_key(row[0]))


def latest_versions_with_blueprint(*, session: Session) -> list[BankVersion]:
    """The newest version of each bank that has a blueprint (what a session can pin)."""
    newest: dict[str, BankVersion] = {}
    for version in session.scalars(select(BankVersion)):
        if not version.content.get("blueprint"):
            continue
        current = newest.get(version.bank_id)
        if current is None or version_key(version.version) > version_key(current.version):
            newest[version.bank_id] = version
    return [newest[key] for key in sorted(newest)]


def get_version(*, session: Session, version_id: int) -> BankVersion:
    version = session.get(BankVersion, version_id)
    if version is None:
        raise BankNotFound("version de banque introuvable")
    return version


def freshness(*, session: Session, on_date, within_days: int):
    """For the newest version of each bank: the items expired or expiring within the horizon."""
    from app.banks.freshness import stale_items

    return [
        (
            bank,
            versions[0],
            stale_items(versions[0].content, on_date=on_date, within_days=within_days),
        )
        for bank, versions in list_banks(session=session)
        if versions
    ]


def versions_of(*, session: Session, bank_id: str) -> list[BankVersion]:
    """A bank's versions, newest first."""
    versions = session.scalars(select(BankVersion).where(BankVersion.bank_id == bank_id)).all()
    return sorted(versions, key=lambda v: version_key(v.version), reverse=True)


@dataclass(frozen=True)
class Catalogue:
    """A published bank version as the draw and the candidate's pages use it (read-only).

    ``questions`` are detached QuestionVersion objects, never added to a session.
    """

    topic_labels: dict[str, str]
    questions: dict[str, QuestionVersion]  # by question id, in bank order
    # Worked out once per day and per process: every start of a sitting draws from them.
    _eligible: dict[date, Mapping[str, tuple[str, ...]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def eligible_on(self, day: date) -> Mapping[str, tuple[str, ...]]:
        """Topic → ids of the questions valid on ``day`` (shared, read-only)."""
        if (known := self._eligible.get(day)) is not None:
            return known
        eligible: dict[str, list[str]] = {}
        for question in self.questions.values():
            if _valid_on(question.content, day):
                eligible.setdefault(question.topic, []).append(question.question_id)
        found = self._eligible[day] = MappingProxyType(
            {topic: tuple(ids) for topic, ids in eligible.items()}
        )
        return found

    @cached_property
    def option_ids(self) -> Mapping[str, tuple[str, ...]]:
        """Choice question → its option ids in the bank's order (shared, read-only)."""
        return MappingProxyType(
            {
                question.question_id: tuple(option_ids(question.content))
                for question in self.questions.values()
                if question.type != "numeric"
            }
        )


# A published version never changes: every process keeps what it read of one. The key
# names one row for good: an id can come back after a rollback, not with the same
# content digest and the same import instant.
_CATALOGUES: dict[tuple[int, str, datetime], Catalogue] = {}


def catalogue(*, session: Session, version_id: int) -> Catalogue:
    """A bank version's questions and topic labels, read from the database once per process.

    Checked once per transaction (a start needs it for its draw and for its response).
    """
    checked = session.info.get("catalogues")
    if checked is not None and checked[0] is session.get_transaction() and version_id in checked[1]:
        return checked[1][version_id]
    found = _catalogue(session=session, version_id=version_id)
    transaction = session.get_transaction()
    if checked is None or checked[0] is not transaction:
        checked = session.info["catalogues"] = (transaction, {})
    checked[1][version_id] = found
    return found


_VERSION_STAMP = select(BankVersion.content_sha256, BankVersion.imported_at).where(
    BankVersion.id == bindparam("version_id")
)  # built once: every start checks it


def _catalogue(*, session: Session, version_id: int) -> Catalogue:
    row = session.execute(_VERSION_STAMP, {"version_id": version_id}).one_or_none()
    if row is None:
        raise BankNotFound("version de banque introuvable")
    key = (version_id, row.content_sha256, row.imported_at)
    found = _CATALOGUES.get(key)
    if found is None:
        content = session.scalar(select(BankVersion.content).where(BankVersion.id == version_id))
        rows = session.execute(
            select(
                QuestionVersion.id,
                QuestionVersion.question_id,
                QuestionVersion.type,
                QuestionVersion.topic,
                QuestionVersion.content,
            )
            .where(QuestionVersion.bank_version_id == version_id)
            .order_by(QuestionVersion.position)
        ).all()
        found = _CATALOGUES[key] = Catalogue(
            topic_labels=dict(content["topics"]),
            questions={
                r.question_id: QuestionVersion(
                    id=r.id,
                    bank_version_id=version_id,
                    question_id=r.question_id,
                    type=r.type,
                    topic=r.topic,
                    content=r.content,
                )
                for r in rows
            },
        )
    return found


def topic_labels(*, session: Session, version_id: int) -> dict[str, str]:
    """Topic id → French label of a bank version."""
    return catalogue(session=session, version_id=version_id).topic_labels


def option_ids(content: dict) -> list[str]:
    """A question's option ids in the bank's order (true/false has two fixed ones)."""
    if content["type"] == "true_false":
        return ["true", "false"]
    return [option["id"] for option in content["options"]]


def _valid_on(content: dict, day: date) -> bool:
    start = date.fromisoformat(content["valid_from"]) if content.get("valid_from") else None
    end = date.fromisoformat(content["valid_until"]) if content.get("valid_until") else None
    return (start is None or start <= day) and (end is None or day <= end)
