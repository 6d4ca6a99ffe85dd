"""Trainers' web authoring: browse, draft, edit with preview, publish, diff, export."""

import re
from html import unescape

from sqlalchemy import select

from app.audit.models import AuditEntry
from app.banks import service as banks_service
from app.banks.format import ThemeCatalog, parse_bank_bytes
from app.banks.models import BankDraft
from app.referential.model import default_referential
from tests.auth.test_auth import form_login
from tests.exam_fixtures import import_bank

CATALOG = ThemeCatalog.from_referential(default_referential())


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def trainer(client, db, make_user):
    import_bank(db)
    db.commit()
    make_user("fanny", "formateur")
    form_login(client, "fanny")


def new_draft(client) -> str:
    page = client.get("/banques/essai").text
    response = client.post(
        "/banques/essai/brouillons",
        data={"csrf_token": csrf(page), "version": "2026.1"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    return response.headers["location"]


EDITED = """\
id: q-vrai-faux
type: true_false
topic: bareme
difficulty: 1
stem: Le barème de l'impôt sur le revenu est progressif.
answer: true
explanation: Le taux croît par tranches.
"""


class TestBrowse:
    def test_filters(self, client, db, make_user):
        trainer(client, db, make_user)
        page = unescape(
            client.get("/banques/essai/versions/2026.1", params={"type": "numeric"}).text
        )
        assert "1 question(s) sur 4" in page
        assert "<h2>q-nombre <span" in page
        valid = unescape(
            client.get("/banques/essai/versions/2026.1", params={"valide_le": "2026-12-01"}).text
        )
        assert "3 question(s) sur 4" in valid and "<h2>q-nombre" not in valid
        by_topic = unescape(
            client.get(
                "/banques/essai/versions/2026.1", params={"sujet": "bareme", "difficulte": "1"}
            ).text
        )
        assert "2 question(s) sur 4" in by_topic


class TestDraftFlow:
    def test_edit_preview_publish_diff(self, client, db, make_user):
        trainer(client, db, make_user)
        draft_url = new_draft(client)
        editor = client.get(f"{draft_url}/questions/2")
        assert "<h1>Modifier la question 3</h1>" in editor.text
        broken = client.post(
            f"{draft_url}/questions/2",
            data={
                "csrf_token": csrf(editor.text),
                "text": EDITED.replace("answer: true", "answer: peut-être"),
            },
        )
        assert broken.status_code == 400
        assert (
            "ligne 6 : question « q-vrai-faux » › answer : doit valoir true ou false"
            in unescape(broken.text)
        )
        preview = client.post(
            f"{draft_url}/apercu",
            data={"text": EDITED, "index": "2"},
            headers={"HX-Request": "true", "X-CSRF-Token": csrf(editor.text)},
        )
        assert "<legend><h3>Question 3 sur 4</h3></legend>" in preview.text
        assert "Le barème de l'impôt sur le revenu est progressif." in unescape(preview.text)
        saved = client.post(
            f"{draft_url}/questions/2",
            data={"csrf_token": csrf(editor.text), "text": EDITED},
            follow_redirects=False,
        )
        assert saved.status_code == 303
        draft_page = client.get(draft_url).text
        refused = client.post(
            f"{draft_url}/publier",
            data={"csrf_token": csrf(draft_page), "version": "2026.2", "summary": " "},
        )
        assert refused.status_code == 400
        assert "Le journal des modifications est obligatoire" in unescape(refused.text)
        published = client.post(
            f"{draft_url}/publier",
            data={
                "csrf_token": csrf(draft_page),
                "version": "2026.2",
                "summary": "Énoncé précisé.",
            },
        )
        assert "<h1>Version 2026.2 publiée</h1>" in published.text
        assert "q-nombre (epargne) : expirée le 30/06/2026" in unescape(published.text)
        document = banks_service.get_document(session=db, bank_id="essai", version="2026.2")
        assert document.changelog[0].summary == "Énoncé précisé."
        assert document.question("q-vrai-faux").stem == EDITED.split("stem: ")[1].split("\n")[0]
        assert db.scalar(select(BankDraft)) is None
        audit = db.scalar(select(AuditEntry).where(AuditEntry.action == "bank.publish"))
        assert (audit.actor, audit.details["version"]) == ("fanny", "2026.2")
        diff = unescape(
            client.get("/banques/essai/diff", params={"de": "2026.1", "a": "2026.2"}).text
        )
        assert "<li>q-vrai-faux : stem</li>" in diff

    def test_new_question_and_duplicate_id(self, client, db, make_user):
        trainer(client, db, make_user)
        draft_url = new_draft(client)
        editor = client.get(f"{draft_url}/questions/nouvelle").text
        text = unescape(
            re.search(r'<textarea id="text"[^>]*>(.*?)</textarea>', editor, re.S).group(1)
        )
        duplicate = client.post(
            f"{draft_url}/questions/nouvelle",
            data={"csrf_token": csrf(editor), "text": text.replace("nouvelle-question", "q-choix")},
        )
        assert duplicate.status_code == 400
        assert "identifiant de question « q-choix » en double" in unescape(duplicate.text)
        client.post(
            f"{draft_url}/questions/nouvelle", data={"csrf_token": csrf(editor), "text": text}
        )
        draft = db.scalar(select(BankDraft))
        db.refresh(draft)
        assert [q["id"] for q in draft.content["questions"]][-1] == "nouvelle-question"

    def test_version_must_grow(self, client, db, make_user):
        trainer(client, db, make_user)
        draft_url = new_draft(client)
        page = client.get(draft_url).text
        response = client.post(
            f"{draft_url}/publier",
            data={"csrf_token": csrf(page), "version": "2026.1", "summary": "x"},
        )
        assert response.status_code == 400
        assert "La nouvelle version doit dépasser la dernière publiée (2026.1)." in unescape(
            response.text
        )

    def test_jury_cannot_edit(self, client, db, make_user):
        import_bank(db)
        db.commit()
        make_user("jules", "jury")
        form_login(client, "jules")
        assert client.get("/banques/essai").status_code == 200
        page = client.get("/banques/essai").text
        assert "Créer le brouillon" not in page
        response = client.post(
            "/banques/essai/brouillons", data={"csrf_token": csrf(page), "version": "2026.1"}
        )
        assert response.status_code == 403


class TestExport:
    def test_yaml_export_round_trip(self, client, db, make_user):
        trainer(client, db, make_user)
        exported = client.get("/banques/essai/versions/2026.1/export.yaml")
        assert exported.headers["content-disposition"] == (
            'attachment; filename="essai-2026.1.yaml"'
        )
        again = parse_bank_bytes(
            exported.content, filename="export", catalog=CATALOG, max_bytes=10**6
        )
        original = banks_service.get_document(session=db, bank_id="essai", version="2026.1")
        assert again.content_sha256() == original.content_sha256()


FIXTURES = __import__("pathlib").Path(__file__).parent / "interchange" / "fixtures"


class TestUpload:
    def upload(self, client, name: str, data: bytes):
        page = client.get("/banques").text
        return client.post(
            "/banques/importer",
            data={"csrf_token": csrf(page)},
            files={"file": (name, data, "application/octet-stream")},
        )

    def test_complete_yaml_is_published(self, client, db, make_user):
        make_user("fanny", "formateur")
        form_login(client, "fanny")
        from tests.banks.samples import VALID_BANK

        response = self.upload(client, "essai.yaml", VALID_BANK.encode())
        assert response.status_code == 200
        assert "<h1>Version 2026.1 publiée</h1>" in response.text
        assert banks_service.get_document(session=db, bank_id="essai", version="2026.1")

    def test_gift_needs_completing(self, client, db, make_user):
        make_user("fanny", "formateur")
        form_login(client, "fanny")
        data = (FIXTURES / "gift" / "questions.gift.txt").read_bytes()
        response = self.upload(client, "questions.gift.txt", data)
        page = unescape(response.text)
        assert response.status_code == 400
        assert "La banque convertie n'est pas encore valide : rien n'a été publié." in page
        assert "question ignorée : Q8 (essay)" in page
        assert '<textarea id="converted"' in page
        assert banks_service.list_banks(session=db) == []

    def test_not_utf8_gift_is_refused(self, client, db, make_user):
        make_user("fanny", "formateur")
        form_login(client, "fanny")
        data = (FIXTURES / "gift" / "questions_encoding_windows-1252.gift.txt").read_bytes()
        response = self.upload(client, "win.gift.txt", data)
        assert response.status_code == 400
        assert "UTF-8" in unescape(response.text)
