"""The append-only audit log: each entry chained to the previous; tampering is found."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, update

from app.audit import service as audit_service
from app.audit.chain import GENESIS
from app.audit.models import AuditEntry

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def write(db, count: int = 3) -> list[AuditEntry]:
    entries = [
        audit_service.record(
            session=db,
            action="session.export",
            target=f"exam_session:{i}",
            now=T0 + timedelta(seconds=i),
            actor="jules",
            details={"format": "csv", "n": i},
        )
        for i in range(count)
    ]
    db.commit()
    return entries


class TestChain:
    def test_entries_are_chained(self, db):
        first, second, third = write(db)
        assert first.prev_sha256 == GENESIS
        assert second.prev_sha256 == first.sha256
        assert third.prev_sha256 == second.sha256
        assert audit_service.verify(session=db) == (3, [])

    def test_edited_entry_is_found(self, db):
        entries = write(db)
        db.execute(
            update(AuditEntry)
            .where(AuditEntry.id == entries[1].id)
            .values(details={"format": "pdf", "n": 1})
        )
        db.commit()
        db.expire_all()
        assert audit_service.verify(session=db) == (
            3,
            [f"entrée {entries[1].id} modifiée (session.export exam_session:1)"],
        )

    def test_deleted_entry_is_found(self, db):
        entries = write(db)
        db.execute(delete(AuditEntry).where(AuditEntry.id == entries[1].id))
        db.commit()
        count, problems = audit_service.verify(session=db)
        assert count == 2
        assert problems == [
            f"entrée {entries[2].id} : lien rompu avec l'entrée {entries[0].id} "
            "(entrée supprimée ou insérée)"
        ]

    def test_deleted_first_entry_is_found(self, db):
        entries = write(db)
        db.execute(delete(AuditEntry).where(AuditEntry.id == entries[0].id))
        db.commit()
        assert audit_service.verify(session=db)[1] == [
            f"entrée {entries[1].id} : lien rompu avec le début du journal "
            "(entrée supprimée ou insérée)"
        ]


class TestCli:
    def test_verify_ok_then_tampered(self, run, db):
        entries = write(db)
        assert run("audit", "verify") == (
            0,
            "Journal d'audit intègre : 3 entrée(s) vérifiée(s).\n",
            "",
        )
        db.execute(update(AuditEntry).where(AuditEntry.id == entries[2].id).values(actor="intrus"))
        db.commit()
        code, out, err = run("audit", "verify")
        assert (code, out) == (1, "")
        assert err.splitlines() == [
            f"entrée {entries[2].id} modifiée (session.export exam_session:2)",
            "Erreur : journal d'audit altéré : 1 problème(s) sur 3 entrées",
        ]


class TestSealedAtCommit:
    def test_an_entry_recorded_in_a_rolled_back_savepoint_is_not_written(self, db):
        try:
            with db.begin_nested():
                audit_service.record(session=db, action="a.lost", target="t:1", now=T0)
                raise RuntimeError("annulé")
        except RuntimeError:
            pass
        kept = audit_service.record(session=db, action="a.kept", target="t:2", now=T0)
        db.commit()
        assert [e.action for e in audit_service.entries(session=db)] == ["a.kept"]
        assert kept.prev_sha256 == GENESIS
        assert audit_service.verify(session=db) == (1, [])

    def test_nothing_is_written_when_the_transaction_rolls_back(self, db):
        audit_service.record(session=db, action="a.lost", target="t:1", now=T0)
        db.rollback()
        write(db, count=1)
        assert [e.action for e in audit_service.entries(session=db)] == ["session.export"]

    def test_transactions_chain_in_commit_order(self, db):
        first = audit_service.record(session=db, action="a.first", target="t:1", now=T0)
        db.commit()
        second = audit_service.record(session=db, action="a.second", target="t:2", now=T0)
        db.commit()
        assert (first.prev_sha256, second.prev_sha256) == (GENESIS, first.sha256)
        assert first.id < second.id
