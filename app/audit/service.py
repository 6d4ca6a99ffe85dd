"""Writing and verifying the audit log. Services only flush."""

from datetime import datetime

from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from app.audit.chain import GENESIS, ChainedEntry, entry_digest, verify_chain
from app.audit.models import AuditEntry

# Appends are serialised so that two transactions never chain to the same predecessor.
_PG_LOCK_KEY = 0x63637071  # "ccpq"
_PENDING = "audit_pending"  # Session.info key: entries recorded, sealed at commit


def record(
    *,
    session: Session,
    action: str,
    target: str,
    now: datetime,
    actor: str | None = None,
    details: dict | None = None,
) -> AuditEntry:
    """Append one entry to this transaction; it is chained to the last one at commit.

    Chaining at commit keeps the global lock for the last moment of the transaction, not
    for the rest of the request. An entry recorded in a savepoint that rolls back is not
    written.
    """
    entry = AuditEntry(at=now, actor=actor, action=action, target=target, details=details or {})
    if not session.in_transaction():
        session.begin()  # so that a rollback of what follows drops the entry too
    owner = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_PENDING, []).append((entry, owner))
    return entry


_LAST_DIGEST = select(AuditEntry.sha256).order_by(AuditEntry.id.desc()).limit(1)


@event.listens_for(Session, "before_commit")
def _seal(session: Session) -> None:
    """Chain this transaction's entries to the log's last entry, under the log's lock."""
    if session.get_nested_transaction() is not None or not session.info.get(_PENDING):
        return  # a savepoint's release: the outermost commit seals
    pending = [entry for entry, _ in session.info.pop(_PENDING)]
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    last = session.scalar(_LAST_DIGEST)
    previous = last or GENESIS
    for entry in pending:
        # Microseconds are kept as stored by every engine, so the digest can be recomputed.
        entry.prev_sha256 = previous
        entry.sha256 = previous = entry_digest(entry)
        session.add(entry)
    session.flush()  # ids in chain order, while the lock is held


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, previous_transaction) -> None:
    """Entries recorded in a transaction that rolled back (or inside it) are dropped."""
    pending = session.info.get(_PENDING)
    if not pending:
        return

    if previous_transaction.parent is None:  # the whole transaction rolled back
        session.info.pop(_PENDING)
        return

    def inside(transaction) -> bool:
        while transaction is not None:
            if transaction is previous_transaction:
                return True
            transaction = transaction.parent
        return False

    session.info[_PENDING] = [(e, t) for e, t in pending if not inside(t)]


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
