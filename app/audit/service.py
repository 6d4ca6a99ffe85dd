"""Writing and verifying the audit log. Services only flush."""

from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.audit.chain import GENESIS, ChainedEntry, entry_digest, verify_chain
from app.audit.models import AuditEntry

# Appends are serialised so that two transactions never chain to the same predecessor.
_PG_LOCK_KEY = 0x63637071  # "ccpq"


def record(
    *,
    session: Session,
    action: str,
    target: str,
    now: datetime,
    actor: str | None = None,
    details: dict | None = None,
) -> AuditEntry:
    """Append one entry, chained to the last one."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    last = session.scalar(select(AuditEntry.sha256).order_by(AuditEntry.id.desc()).limit(1))
    details = details or {}
    # Microseconds are kept as stored by every engine, so the digest can be recomputed.
    entry = AuditEntry(
        at=now,
        actor=actor,
        action=action,
        target=target,
        details=details,
        prev_sha256=last or GENESIS,
        sha256=entry_digest(
            prev_sha256=last or GENESIS,
            at=now,
            actor=actor,
            action=action,
            target=target,
            details=details,
        ),
    )
    session.add(entry)
    session.flush()
    return entry


def verify(*, session: Session) -> tuple[int, list[str]]:
    """(entries read, problems found) over the whole log."""
    rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    entries = [
        ChainedEntry(r.id, r.at, r.actor, r.action, r.target, r.details, r.prev_sha256, r.sha256)
        for r in rows
    ]
    return len(entries), verify_chain(entries)


def entries(*, session: Session, limit: int = 200) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)))
