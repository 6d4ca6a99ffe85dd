"""Bank versions in the database: immutable, content-hashed, stable question ids."""

from datetime import date

import pytest
from sqlalchemy import func, select

from app.banks import service as banks_service
from app.banks.format import ThemeCatalog, parse_bank_bytes
from app.banks.models import Bank, BankVersion, QuestionVersion
from app.db import utcnow
from app.referential.model import default_referential
from tests.banks.samples import VALID_BANK

CATALOG = ThemeCatalog.from_referential(default_referential())


def document(text: str = VALID_BANK):
    return parse_bank_bytes(text.encode(), filename="b.yaml", catalog=CATALOG, max_bytes=10**6)


def bump(text: str = VALID_BANK, version: str = "2026.2", **replacements: str) -> str:
    text = text.replace('version: "2026.1"', f'version: "{version}"', 1)
    text = text.replace(
        "changelog:\n",
        f'changelog:\n  - version: "{version}"\n    date: 2026-03-01\n    summary: Mise à jour.\n',
        1,
    )
    for old, new in replacements.items():
        text = text.replace(old, new, 1)
    return text


def store(db, text: str = VALID_BANK):
    return banks_service.import_document(
        session=db, document=document(text), source="b.yaml", now=utcnow()
    )


class TestImport:
    def test_creates_version_and_questions(self, db):
        outcome = store(db)
        assert outcome.status == "created"
        version = outcome.version
        assert (version.bank_id, version.version, version.question_count) == ("essai", "2026.1", 4)
        assert version.content_sha256 == document().content_sha256()
        questions = db.scalars(
            select(QuestionVersion)
            .where(QuestionVersion.bank_version_id == version.id)
            .order_by(QuestionVersion.position)
        ).all()
        assert [(q.question_id, q.type, q.topic) for q in questions] == [
            ("q-choix", "single_choice", "bareme"),
            ("q-multiple", "multiple_choice", "epargne"),
            ("q-vrai-faux", "true_false", "bareme"),
            ("q-nombre", "numeric", "epargne"),
        ]
        assert questions[3].content["answer"] == "17.2"

    def test_identical_reimport_is_a_no_op(self, db):
        first = store(db)
        again = store(db, "# relu\n" + VALID_BANK)
        assert again.status == "unchanged"
        assert again.version.id == first.version.id
        assert db.scalar(select(func.count()).select_from(BankVersion)) == 1
        assert db.scalar(select(func.count()).select_from(QuestionVersion)) == 4

    def test_changed_content_under_same_version_is_refused(self, db):
        store(db)
        with pytest.raises(banks_service.BankVersionConflict) as caught:
            store(db, VALID_BANK.replace("Le barème est progressif.", "Autre énoncé."))
        assert str(caught.value) == (
            "b.yaml: la version 2026.1 de la banque « essai » est déjà publiée avec un autre "
            "contenu : une version publiée ne change jamais, incrémentez « version » (et ajoutez "
            "une entrée au journal des modifications)."
        )
        assert db.scalar(select(func.count()).select_from(BankVersion)) == 1

    def test_new_version_keeps_the_old_one(self, db):
        store(db)
        store(db, bump(**{"title: Banque d'essai": "title: Banque d'essai révisée"}))
        rows = db.execute(select(BankVersion.version, BankVersion.title).order_by(BankVersion.id))
        assert rows.all() == [("2026.1", "Banque d'essai"), ("2026.2", "Banque d'essai révisée")]
        assert db.get(Bank, "essai").title == "Banque d'essai révisée"

    def test_stored_content_reads_back_identical(self, db):
        store(db)
        stored = banks_service.get_document(session=db, bank_id="essai", version="2026.1")
        assert stored == document()
        assert stored.content_sha256() == document().content_sha256()


class TestVersionsAndHistory:
    def test_diff_between_stored_versions(self, db):
        store(db)
        store(db, bump(**{"Le barème est progressif.": "Le barème de l'IR est progressif."}))
        diff = banks_service.diff_versions(session=db, bank_id="essai", old="2026.1", new="2026.2")
        assert diff.added == () and diff.removed == ()
        assert [(c.question_id, c.fields) for c in diff.changed] == [("q-vrai-faux", ("stem",))]

    def test_question_history_follows_the_stable_id(self, db):
        store(db)
        reworded = {"Le barème est progressif.": "Le barème de l'IR est progressif."}
        store(db, bump(**reworded))
        store(db, bump(version="2026.10", **reworded))
        history = banks_service.question_history(
            session=db, bank_id="essai", question_id="q-vrai-faux"
        )
        assert [version for version, _ in history] == ["2026.1", "2026.2", "2026.10"]
        assert history[0][1] != history[1][1]
        unchanged = banks_service.question_history(
            session=db, bank_id="essai", question_id="q-choix"
        )
        assert len({digest for _, digest in unchanged}) == 1

    def test_unknown_version(self, db):
        with pytest.raises(
            banks_service.BankNotFound, match="la banque « essai » n'a pas de version 9999.1"
        ):
            banks_service.get_document(session=db, bank_id="essai", version="9999.1")

    def test_list_is_newest_first(self, db):
        store(db)
        store(db, bump(version="2026.10"))
        store(db, bump(version="2026.9"))
        [(bank, versions)] = banks_service.list_banks(session=db)
        assert bank.id == "essai"
        assert [v.version for v in versions] == ["2026.10", "2026.9", "2026.1"]


class TestCatalogue:
    def test_read_once_per_process_and_checked_once_per_transaction(self, db):
        from sqlalchemy import event

        version = store(db).version
        db.commit()
        statements: list[str] = []

        def record(conn, cursor, statement, *args) -> None:
            if statement.startswith("SELECT"):  # the test's savepoints are not the point
                statements.append(statement)

        event.listen(db.get_bind(), "before_cursor_execute", record)
        try:
            first = banks_service.catalogue(session=db, version_id=version.id)
            reads = len(statements)  # the freshness check, the version, its questions
            again = banks_service.catalogue(session=db, version_id=version.id)
            assert again is first and len(statements) == reads  # same transaction: no query
            db.commit()
            later = banks_service.catalogue(session=db, version_id=version.id)
        finally:
            event.remove(db.get_bind(), "before_cursor_execute", record)
        assert later is first  # the process keeps it…
        assert len(statements) == reads + 1  # …but a new transaction checks it is current
        assert list(first.questions) == ["q-choix", "q-multiple", "q-vrai-faux", "q-nombre"]
        assert first.eligible_on(date(2026, 6, 30)) == {
            "bareme": ("q-choix", "q-vrai-faux"),
            "epargne": ("q-multiple", "q-nombre"),
        }
        # q-nombre is valid until 30 June.
        assert first.eligible_on(date(2026, 7, 1))["epargne"] == ("q-multiple",)
        # Worked out once a day, shared and read-only: the starts of a sitting draw from it.
        assert first.eligible_on(date(2026, 6, 30)) is first.eligible_on(date(2026, 6, 30))
        with pytest.raises(TypeError):
            first.eligible_on(date(2026, 6, 30))["bareme"] = ()
        assert first.option_ids is first.option_ids
        assert first.option_ids["q-choix"] == ("a", "b")
        assert first.option_ids["q-vrai-faux"] == ("true", "false")
        assert "q-nombre" not in first.option_ids
