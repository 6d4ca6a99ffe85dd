"""Regulatory freshness: expired and expiring items, in the CLI and on the web."""

from datetime import date
from html import unescape

from app.banks.format import ThemeCatalog, parse_bank_bytes
from app.banks.freshness import EXPIRED, EXPIRING, expired_before, stale_items
from app.referential.model import default_referential
from tests.auth.test_auth import form_login
from tests.banks.samples import VALID_BANK
from tests.exam_fixtures import import_bank

CONTENT = parse_bank_bytes(
    VALID_BANK.encode(),
    filename="b",
    catalog=ThemeCatalog.from_referential(default_referential()),
    max_bytes=10**6,
).model_dump(mode="json")


class TestStaleItems:
    def test_expired_and_expiring(self):
        stale = stale_items(CONTENT, on_date=date(2026, 12, 15), within_days=30)
        assert [(i.question_id, i.status, i.valid_until) for i in stale] == [
            ("q-nombre", EXPIRED, date(2026, 6, 30)),
            ("q-choix", EXPIRING, date(2026, 12, 31)),
            ("q-multiple", EXPIRING, date(2026, 12, 31)),
            ("q-vrai-faux", EXPIRING, date(2026, 12, 31)),
        ]
        assert stale[0].describe() == "q-nombre (epargne) : expirée le 30/06/2026"

    def test_nothing_within_a_short_horizon(self):
        assert stale_items(CONTENT, on_date=date(2026, 3, 1), within_days=30) == []
        assert [i.question_id for i in expired_before(CONTENT, day=date(2026, 7, 1))] == [
            "q-nombre"
        ]


class TestReport:
    def test_cli(self, run, db, exam, monkeypatch):
        from tests.exam_fixtures import OPENS

        monkeypatch.setattr("app.db.utcnow", lambda: OPENS)
        code, out, _ = run("banks", "freshness", "--days", "40")
        lines = out.splitlines()
        assert code == 0
        assert lines[0] == "Fraîcheur réglementaire au 01/12/2026 (horizon : 10/01/2027)"
        assert lines[1] == "Banque essai 2026.1 : 4 question(s)"
        assert "  q-nombre (epargne) : expirée le 30/06/2026" in lines
        assert "Session « Session de test », Questionnaire d'essai : 4 question(s)" in lines

    def test_import_warns_about_expired_items(self, run, tmp_path, monkeypatch):
        from tests.exam_fixtures import OPENS

        monkeypatch.setattr("app.db.utcnow", lambda: OPENS)
        path = tmp_path / "essai.yaml"
        path.write_text(VALID_BANK, encoding="utf-8")
        code, _, err = run("banks", "import", str(path))
        assert code == 0
        assert err == (
            f"Attention : {path}: 1 question(s) échue(s) aujourd'hui (q-nombre) : elles ne "
            "seront pas tirées ; publiez une version à jour.\n"
        )

    def test_page(self, client, db, make_user):
        import_bank(db)
        db.commit()
        make_user("fanny", "formateur")
        form_login(client, "fanny")
        page = unescape(client.get("/banques/fraicheur", params={"jours": 60}).text)
        assert "<h3>Banque d'essai – 2026.1 : 4 question(s)</h3>" in page
        assert "<li>q-nombre (epargne) : expirée le 30/06/2026</li>" in page
