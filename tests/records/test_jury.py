"""Results feed the record; the jury decides, deliberates, neutralises and exports."""

import csv
import io
import json
import re
from html import unescape

import openpyxl
from pypdf import PdfReader
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.records.models import CompetenceOutcome
from tests.auth.test_auth import form_login
from tests.exam_fixtures import CLOSES, login


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def take(client, exam, answers: dict[str, list[str]]) -> dict:
    """Alice takes the questionnaire with these answers and submits it."""
    login(client)
    attempt = client.post(f"/api/v1/questionnaires/{exam.questionnaire_id}/attempts").json()
    for question_id, selected in answers.items():
        client.put(
            f"/api/v1/attempts/{attempt['id']}/answers/{question_id}",
            json={"seq": 1, "selected": selected},
        )
    submitted = client.post(f"/api/v1/attempts/{attempt['id']}/submit").json()
    client.headers.pop("Authorization")
    return submitted


ALL_RIGHT = {"q-choix": ["a"], "q-multiple": ["a", "b"], "q-vrai-faux": ["true"]}
ONE_RIGHT = {"q-choix": ["b"], "q-multiple": ["a"], "q-vrai-faux": ["true"]}


def alice_id(db) -> int:
    from app.auth.models import UserAccount

    return db.scalar(select(UserAccount.id).where(UserAccount.login == "alice"))


def competence(record: dict, code: str) -> dict:
    return next(c for b in record["blocs"] for c in b["competences"] if c["code"] == code)


def jury(client, make_user):
    make_user("jules", "jury")
    form_login(client, "jules")


class TestResultsFeedTheRecord:
    def test_passed_questionnaire_counts_for_its_competence(self, client, exam, clock, db):
        take(client, exam, ALL_RIGHT)
        rows = db.scalars(select(CompetenceOutcome)).all()
        assert [(r.competence, r.modality, r.passed, r.source, r.detail) for r in rows] == [
            ("C9", "questionnaire:fiscalite", True, "questionnaire", "100 %")
        ]
        login(client)
        record = client.get(f"/api/v1/candidates/{alice_id(db)}/record").json()
        c9 = competence(record, "C9")
        assert c9["state"] == "en attente"  # the jury's three modalities are still to come
        assert [(m["modality"], m["result"]) for m in c9["modalities"]] == [
            ("mise_en_situation", None),
            ("livrables", None),
            ("soutenance", None),
            ("questionnaire:fiscalite", True),
        ]
        assert record["certification"] == "non validé"

    def test_record_privacy(self, client, exam, clock, db, make_user):
        take(client, exam, ALL_RIGHT)
        make_user("bob", "candidat")
        login(client, "bob")
        assert client.get(f"/api/v1/candidates/{alice_id(db)}/record").status_code == 404
        make_user("fanny", "formateur")
        login(client, "fanny")
        assert client.get(f"/api/v1/candidates/{alice_id(db)}/record").status_code == 403
        make_user("jules", "jury")
        login(client, "jules")
        assert client.get(f"/api/v1/candidates/{alice_id(db)}/record").status_code == 200


class TestJuryDecisions:
    def decide(self, client, exam, modality, decision="acquis", competence="C9"):
        page = client.get(f"/sessions/{exam.session_id}/candidats/{exam.enrolment_id}")
        return client.post(
            f"/sessions/{exam.session_id}/candidats/{exam.enrolment_id}/decisions",
            data={
                "csrf_token": csrf(page.text),
                "competence": competence,
                "modality": modality,
                "decision": decision,
                "decided_on": "2026-12-02",
                "comment": "Présentation convaincante",
            },
            follow_redirects=False,
        )

    def test_all_modalities_passed_acquire_the_competence(self, client, exam, clock, db, make_user):
        take(client, exam, ALL_RIGHT)
        jury(client, make_user)
        for modality in ("mise_en_situation", "livrables", "soutenance"):
            assert self.decide(client, exam, modality).status_code == 303
        page = unescape(
            client.get(f"/sessions/{exam.session_id}/candidats/{exam.enrolment_id}").text
        )
        assert '<th scope="row">C9 (B2.3)</th>' in page
        record = client.get(f"/api/v1/candidates/{alice_id(db)}/record").json()
        assert competence(record, "C9")["state"] == "acquise"
        assert competence(record, "C10")["state"] == "en attente"
        bloc2 = next(b for b in record["blocs"] if b["code"] == "B2")
        assert bloc2["state"] == "en attente"  # no partial bloc
        entries = db.scalars(
            select(AuditEntry).where(AuditEntry.action == "jury.decision").order_by(AuditEntry.id)
        ).all()
        assert len(entries) == 3 and entries[0].actor == "jules"

    def test_questionnaire_modality_is_not_the_jurys(self, client, exam, clock, make_user):
        jury(client, make_user)
        response = self.decide(client, exam, "questionnaire:fiscalite")
        assert response.status_code == 400
        assert (
            "La modalité « questionnaire:fiscalite » n'évalue pas C9 ou ne relève pas du jury."
            in unescape(response.text)
        )

    def test_deliberation_freezes_the_records(self, client, exam, clock, db, make_user):
        jury(client, make_user)
        grid = client.get(f"/sessions/{exam.session_id}/jury").text
        client.post(f"/sessions/{exam.session_id}/deliberation", data={"csrf_token": csrf(grid)})
        refused = self.decide(client, exam, "livrables")
        assert refused.status_code == 409
        assert "La délibération de cette session est close : le dossier est figé." in unescape(
            refused.text
        )
        grid = client.get(f"/sessions/{exam.session_id}/jury").text
        no_reason = client.post(
            f"/sessions/{exam.session_id}/deliberation/rouvrir",
            data={"csrf_token": csrf(grid), "reason": "erreur"},
        )
        assert no_reason.status_code == 409
        client.post(
            f"/sessions/{exam.session_id}/deliberation/rouvrir",
            data={"csrf_token": csrf(grid), "reason": "Décision saisie sur le mauvais candidat"},
        )
        assert self.decide(client, exam, "livrables").status_code == 303
        actions = db.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert actions[-3:] == [
            "session.deliberation.close",
            "session.deliberation.reopen",
            "jury.decision",
        ]
        reopen = db.scalar(
            select(AuditEntry).where(AuditEntry.action == "session.deliberation.reopen")
        )
        assert reopen.details == {"reason": "Décision saisie sur le mauvais candidat"}


class TestNeutralisation:
    def test_dry_run_then_apply(self, client, exam, clock, db, make_user):
        take(client, exam, ONE_RIGHT)  # 1 / 3: fails
        jury(client, make_user)
        url = f"/sessions/{exam.session_id}/questionnaires/{exam.questionnaire_id}/neutralisation"
        dry = unescape(client.get(url, params={"question_id": "q-choix", "policy": "grant"}).text)
        assert "1 copie(s) concernée(s), dont 1 changement(s) de résultat." in dry
        assert "<td>33,33 %</td><td>66,66 %</td>" in dry
        assert "Non réussi → Réussi" in dry
        assert db.scalar(select(CompetenceOutcome.passed)) is False  # nothing changed yet
        client.post(
            url, data={"csrf_token": csrf(dry), "question_id": "q-choix", "policy": "grant"}
        )
        db.expire_all()
        outcome = db.scalar(select(CompetenceOutcome))
        assert (outcome.passed, outcome.detail) == (True, "66,66 %")
        audit = db.scalar(select(AuditEntry).where(AuditEntry.action == "questionnaire.neutralise"))
        assert audit.details == {
            "question_id": "q-choix",
            "policy": "grant",
            "attempts": 1,
            "verdicts_changed": ["C-001"],
        }
        again = client.get(url, params={"question_id": "q-choix", "policy": "remove"})
        assert again.status_code == 400
        assert "La question « q-choix » est déjà neutralisée." in unescape(again.text)

    def test_remove_policy(self, client, exam, clock, db, make_user):
        take(client, exam, ONE_RIGHT)
        jury(client, make_user)
        url = f"/sessions/{exam.session_id}/questionnaires/{exam.questionnaire_id}/neutralisation"
        dry = unescape(
            client.get(url, params={"question_id": "q-multiple", "policy": "remove"}).text
        )
        assert "<td>33,33 %</td><td>50 %</td>" in dry  # 1 / 2 once the item is removed
        assert "inchangé (Non réussi)" in dry


class TestExports:
    def test_every_format_reads_back(self, client, exam, clock, db, make_user):
        take(client, exam, ALL_RIGHT)
        clock.now = CLOSES
        jury(client, make_user)
        base = f"/api/v1/exam-sessions/{exam.session_id}/export"
        response = client.get(base, params={"format": "csv"})
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
        alice = next(row for row in rows if row and row[0] == "C-001")
        assert "100" in alice and "Réussi" in alice and "non validé" in alice
        assert any(row[:2] == ["Banques", "essai 2026.1"] for row in rows if row)
        assert (
            response.headers["X-Content-SHA256"]
            == __import__("hashlib").sha256(response.content).hexdigest()
        )
        xlsx = client.get(base, params={"format": "xlsx"})
        book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
        assert "Synthèse" in book.sheetnames
        pdf = client.get(base, params={"format": "pdf"})
        text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
        assert "C-001" in text and "Alice" in text and "Procès-verbal" in text
        data = json.loads(client.get(base, params={"format": "json"}).content)
        assert data["candidates"][0]["candidate_number"] == "C-001"
        assert data["questionnaires"][0]["bank_version"] == "2026.1"
        pseudo = client.get(base, params={"format": "json", "pseudonymise": "true"}).text
        assert "Alice" not in pseudo and "C-001" in pseudo
        exports = db.scalars(
            select(AuditEntry).where(AuditEntry.action == "session.export").order_by(AuditEntry.id)
        ).all()
        assert [e.details["format"] for e in exports] == ["csv", "xlsx", "pdf", "json", "json"]

    def test_candidates_cannot_export(self, client, exam, clock):
        login(client)
        response = client.get(f"/api/v1/exam-sessions/{exam.session_id}/export")
        assert response.status_code == 403


class TestJuryGrid:
    def test_grid_and_histogram(self, client, exam, clock, make_user):
        take(client, exam, ALL_RIGHT)
        jury(client, make_user)
        page = unescape(client.get(f"/sessions/{exam.session_id}/jury").text)
        assert "C-001 – Alice" in page
        assert (
            '<span class="state state-wait"><span aria-hidden="true">… </span>en attente</span>'
            in page
        )
        assert 'role="img" aria-labelledby="histo-0-title histo-0-desc"' in page
        assert (
            '<title id="histo-0-title">Distribution des scores : Questionnaire d\'essai</title>'
            in page
        )
        assert "1 copie(s) ; 1 au-dessus du seuil de 60 %." in page
        assert '<tr><th scope="row">[90 ; 100] %</th><td>1</td></tr>' in page
