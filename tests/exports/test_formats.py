"""The jury's exports, read back: CSV, XLSX, PDF procès-verbal, JSON."""

import csv
import hashlib
import io
import json
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import openpyxl
import pytest
from pypdf import PdfReader

from app.exports.formats import EXPORTERS, to_csv, to_json, to_pdf, to_xlsx
from app.exports.report import (
    BlocResult,
    CandidateLine,
    QuestionnaireInfo,
    QuestionnaireResult,
    SessionReport,
    content_sha256,
    pseudonymise,
    report_data,
)

BLOC_TITLES = (
    "Développer et gérer un portefeuille",
    "Conseiller le client particulier",
    "Maîtriser les risques et la conformité",
)
NAMES = ("Lœvenbruck", "Bénédicte", "Cœur", "Éloïse", "Œuvray", "François")


def _blocs(*states: str) -> tuple[BlocResult, ...]:
    return tuple(
        BlocResult(f"B{index}", title, state)
        for index, (title, state) in enumerate(zip(BLOC_TITLES, states, strict=True), start=1)
    )


def _result(theme, status, points, max_points, percent, passed) -> QuestionnaireResult:
    def number(value):
        return None if value is None else Decimal(value)

    return QuestionnaireResult(
        theme, status, number(points), number(max_points), number(percent), passed
    )


def make_report(*, deliberated: bool = True) -> SessionReport:
    return SessionReport(
        session_name="Session de décembre 2026",
        opens_at=datetime(2026, 12, 1, 8, 0, tzinfo=UTC),
        closes_at=datetime(2026, 12, 1, 11, 0, tzinfo=UTC),
        generated_at=datetime(2026, 12, 3, 15, 30, tzinfo=UTC),
        deliberated=deliberated,
        questionnaires=(
            QuestionnaireInfo(
                "fiscalite", "Fiscalité des particuliers", "fiscalite-pp", "2026.2", Decimal("60")
            ),
            QuestionnaireInfo(
                "credit", "Crédit immobilier", "credit-immo", "2026.1", Decimal("62.5")
            ),
        ),
        candidates=(
            CandidateLine(
                candidate_number="2026-001",
                last_name="Lœvenbruck",
                first_name="Bénédicte",
                questionnaires=(
                    _result("fiscalite", "remis", "14.5", "20", "72.50", True),
                    _result("credit", "remis", "16", "20", "80.00", True),
                ),
                blocs=_blocs("validé", "validé", "validé"),
                certification="titre obtenu",
                validated_blocs=("B1", "B2", "B3"),
            ),
            CandidateLine(
                candidate_number="2026-002",
                last_name="Cœur",
                first_name="Éloïse",
                questionnaires=(
                    _result("fiscalite", "temps écoulé", "9", "20", "45.00", False),
                    _result("credit", "remis", "13", "20", "65.00", True),
                ),
                blocs=_blocs("non validé", "validé", "en attente"),
                certification="validation partielle",
                validated_blocs=("B2",),
            ),
            CandidateLine(
                candidate_number="2026-003",
                last_name="Œuvray",
                first_name="François",
                questionnaires=(
                    _result("fiscalite", "non passé", None, None, None, None),
                    _result("credit", "en cours", None, None, None, None),
                ),
                blocs=_blocs("en attente", "en attente", "en attente"),
                certification="non validé",
                validated_blocs=(),
            ),
        ),
    )


REPORT = make_report()


def _csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))


def _workbook(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


def _workbook_texts(data: bytes) -> str:
    return "\n".join(
        str(value)
        for sheet in _workbook(data)
        for row in sheet.iter_rows(values_only=True)
        for value in row
        if value is not None
    )


def _pdf_pages(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


class TestReportData:
    def test_plain_json_values(self):
        data = report_data(REPORT)
        assert data["opens_at"] == "2026-12-01T08:00:00+00:00"
        assert data["generated_at"] == "2026-12-03T15:30:00+00:00"
        assert data["deliberated"] is True
        assert data["questionnaires"][1] == {
            "theme": "credit",
            "title": "Crédit immobilier",
            "bank_id": "credit-immo",
            "bank_version": "2026.1",
            "threshold_percent": "62.5",
        }
        first = data["candidates"][0]
        assert first["last_name"] == "Lœvenbruck"
        assert first["questionnaires"][0] == {
            "theme": "fiscalite",
            "status": "remis",
            "points": "14.5",
            "max_points": "20",
            "percent": "72.50",
            "passed": True,
        }
        assert first["blocs"][0] == {"code": "B1", "title": BLOC_TITLES[0], "state": "validé"}
        assert first["validated_blocs"] == ["B1", "B2", "B3"]
        assert data["candidates"][2]["questionnaires"][0]["percent"] is None
        json.dumps(data)  # JSON-able as is

    def test_datetimes_in_other_zones_are_written_in_utc(self):
        paris = datetime.fromisoformat("2026-12-01T09:00:00+01:00")
        assert report_data(replace(REPORT, opens_at=paris))["opens_at"] == (
            "2026-12-01T08:00:00+00:00"
        )

    def test_digest_is_the_sha256_of_the_canonical_json(self):
        canonical = json.dumps(
            report_data(REPORT), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8")
        assert content_sha256(REPORT) == hashlib.sha256(canonical).hexdigest()
        assert content_sha256(make_report()) == content_sha256(REPORT)

    def test_digest_changes_when_a_score_changes(self):
        first = REPORT.candidates[0]
        changed_result = replace(first.questionnaires[0], percent=Decimal("72.55"))
        changed = replace(
            REPORT,
            candidates=(
                replace(first, questionnaires=(changed_result, first.questionnaires[1])),
                *REPORT.candidates[1:],
            ),
        )
        assert content_sha256(changed) != content_sha256(REPORT)

    def test_pseudonymise_keeps_numbers_and_removes_names(self):
        anonymous = pseudonymise(REPORT)
        assert [c.candidate_number for c in anonymous.candidates] == [
            "2026-001",
            "2026-002",
            "2026-003",
        ]
        assert all(c.last_name is None and c.first_name is None for c in anonymous.candidates)
        assert anonymous.candidates[1].certification == "validation partielle"
        assert content_sha256(anonymous) != content_sha256(REPORT)

    def test_naive_datetime_is_refused(self):
        with pytest.raises(ValueError, match="fuseau"):
            replace(REPORT, closes_at=datetime(2026, 12, 1, 11, 0))

    def test_results_must_follow_the_session_questionnaires(self):
        first = REPORT.candidates[0]
        swapped = replace(first, questionnaires=first.questionnaires[::-1])
        with pytest.raises(ValueError, match="2026-001"):
            replace(REPORT, candidates=(swapped,))


class TestCsv:
    def test_excel_french_encoding(self):
        data = to_csv(REPORT)
        assert data.startswith(b"\xef\xbb\xbf")
        text = data[3:].decode("utf-8")
        assert text.endswith("\r\n")
        assert "\n" not in text.replace("\r\n", "")

    def test_header_and_rows(self):
        rows = _csv_rows(to_csv(REPORT))
        assert rows[0] == [
            "Numéro de candidat",
            "Nom",
            "Prénom",
            "Fiscalité des particuliers – score (%)",
            "Fiscalité des particuliers – résultat",
            "Crédit immobilier – score (%)",
            "Crédit immobilier – résultat",
            "Bloc 1",
            "Bloc 2",
            "Bloc 3",
            "Décision",
        ]
        assert rows[1:4] == [
            [
                "2026-001", "Lœvenbruck", "Bénédicte", "72,5", "Réussi", "80", "Réussi",
                "validé", "validé", "validé", "titre obtenu",
            ],
            [
                "2026-002", "Cœur", "Éloïse", "45", "Non réussi", "65", "Réussi",
                "non validé", "validé", "en attente", "validation partielle",
            ],
            [
                "2026-003", "Œuvray", "François", "", "non passé", "", "en cours",
                "en attente", "en attente", "en attente", "non validé",
            ],
        ]  # fmt: skip

    def test_metadata_rows(self):
        rows = _csv_rows(to_csv(REPORT))
        assert rows[4] == []
        assert rows[5:] == [
            [
                "Session",
                "Session de décembre 2026",
                "du 01/12/2026 à 09:00 au 01/12/2026 à 12:00 (heure de Paris)",
            ],
            ["Généré le", "03/12/2026 à 16:30 (heure de Paris)"],
            ["Délibération", "close"],
            ["Banques", "fiscalite-pp 2026.2", "credit-immo 2026.1"],
            ["Empreinte SHA-256 du contenu", content_sha256(REPORT)],
        ]

    def test_provisional_session_says_so(self):
        rows = _csv_rows(to_csv(make_report(deliberated=False)))
        assert ["Délibération", "non close – document provisoire"] in rows

    def test_text_cells_are_never_formulas(self):
        first = replace(REPORT.candidates[0], last_name='=HYPERLINK("http://x";"clic")')
        rows = _csv_rows(to_csv(replace(REPORT, candidates=(first,))))
        assert rows[1][1] == '\'=HYPERLINK("http://x";"clic")'


class TestXlsx:
    def test_sheets(self):
        workbook = _workbook(to_xlsx(REPORT))
        assert workbook.sheetnames == [
            "Synthèse",
            "Fiscalité des particuliers",
            "Crédit immobilier",
            "Informations",
        ]

    def test_questionnaire_sheet_has_number_cells(self):
        sheet = _workbook(to_xlsx(REPORT))["Fiscalité des particuliers"]
        rows = list(sheet.iter_rows(values_only=True))
        assert rows[0] == (
            "Numéro de candidat",
            "Nom",
            "Prénom",
            "Points",
            "Maximum",
            "Pourcentage (%)",
            "Résultat",
        )
        assert rows[1] == ("2026-001", "Lœvenbruck", "Bénédicte", 14.5, 20, 72.5, "Réussi")
        assert rows[2] == ("2026-002", "Cœur", "Éloïse", 9, 20, 45, "Non réussi")
        assert rows[3] == ("2026-003", "Œuvray", "François", None, None, None, "non passé")
        score = sheet["F2"]
        assert score.data_type == "n"
        assert isinstance(score.value, float)
        assert score.value == 72.5
        assert score.number_format == "0.00"
        assert sheet["A1"].font.bold
        assert sheet.freeze_panes == "D2"
        assert sheet.column_dimensions["A"].width >= len("Numéro de candidat")

    def test_synthese_has_blocs_and_decisions(self):
        sheet = _workbook(to_xlsx(REPORT))["Synthèse"]
        rows = list(sheet.iter_rows(values_only=True))
        assert rows[0] == (
            "Numéro de candidat",
            "Nom",
            "Prénom",
            "Bloc 1 – Développer et gérer un portefeuille",
            "Bloc 2 – Conseiller le client particulier",
            "Bloc 3 – Maîtriser les risques et la conformité",
            "Décision",
            "Blocs validés",
        )
        assert [row[6] for row in rows[1:]] == [
            "titre obtenu",
            "validation partielle",
            "non validé",
        ]
        assert rows[2][3:6] == ("non validé", "validé", "en attente")
        assert rows[2][7] == "B2"
        assert sheet["G1"].font.bold

    def test_informations(self):
        sheet = _workbook(to_xlsx(REPORT))["Informations"]
        rows = [row for row in sheet.iter_rows(values_only=True) if any(row)]
        labels = {row[0]: row[1] for row in rows}
        assert labels["Session"] == "Session de décembre 2026"
        assert labels["Ouverture"] == "01/12/2026 à 09:00 (heure de Paris)"
        assert labels["Clôture"] == "01/12/2026 à 12:00 (heure de Paris)"
        assert labels["Délibération"] == "close"
        assert labels["Empreinte SHA-256 du contenu"] == content_sha256(REPORT)
        assert ("Crédit immobilier", "credit", "credit-immo", "2026.1", 62.5) in rows

    def test_sheet_names_are_valid_and_unique(self):
        long_title = "Fiscalité [patrimoniale] : IR/IFI * plus-values ? \\ successions"
        questionnaires = (
            replace(REPORT.questionnaires[0], title=long_title),
            replace(REPORT.questionnaires[1], title=long_title),
        )
        workbook = _workbook(to_xlsx(replace(REPORT, questionnaires=questionnaires)))
        names = workbook.sheetnames[1:3]
        assert names == ["Fiscalité -patrimoniale- - IR-I", "Fiscalité -patrimoniale- - (2)"]
        assert all(len(name) <= 31 for name in names)

    def test_text_cells_are_never_formulas(self):
        first = replace(REPORT.candidates[0], last_name="=1+1")
        sheet = _workbook(to_xlsx(replace(REPORT, candidates=(first,))))["Synthèse"]
        assert sheet["B2"].value == "=1+1"
        assert sheet["B2"].data_type == "s"


class TestPdf:
    def test_proces_verbal(self):
        pages = _pdf_pages(to_pdf(REPORT))
        text = "\n".join(pages)
        assert "Procès-verbal de délibération" in text
        assert "Session : Session de décembre 2026" in text
        assert "Ouverture : 01/12/2026 à 09:00 – Clôture : 01/12/2026 à 12:00" in text
        assert "fiscalite-pp" in text and "2026.2" in text
        assert "credit-immo" in text and "2026.1" in text
        assert "Candidat n° 2026-001 – Lœvenbruck Bénédicte" in text
        assert "Candidat n° 2026-002 – Cœur Éloïse" in text
        assert "Candidat n° 2026-003 – Œuvray François" in text
        assert "2026-001\nLœvenbruck Bénédicte\nB1, B2, B3\ntitre obtenu" in text
        assert "2026-002\nCœur Éloïse\nB2\nvalidation partielle" in text
        assert "2026-003\nŒuvray François\n–\nnon validé" in text
        assert "Décision : titre obtenu" in text
        assert "Décision : validation partielle (Bloc 2)" in text
        assert "Décision : non validé" in text
        assert "14,5 / 20" in text and "72,5 %" in text
        assert "Maîtriser les risques et la conformité" in text
        assert "œ" in text and "Œ" in text
        assert "Fait le 03/12/2026" in text
        assert "Le président du jury" in text
        assert "Les membres du jury" in text
        assert "provisoire" not in text

    def test_candidate_order(self):
        text = "\n".join(_pdf_pages(to_pdf(REPORT)))
        positions = [text.index(f"Candidat n° 2026-00{n}") for n in (1, 2, 3)]
        assert positions == sorted(positions)

    def test_every_page_is_numbered_and_carries_the_digest(self):
        pages = _pdf_pages(to_pdf(REPORT))
        assert "Page 1 sur " in pages[0]
        digest = content_sha256(REPORT)
        for number, page in enumerate(pages, start=1):
            assert f"Page {number} sur {len(pages)}" in page
            assert f"Empreinte SHA-256 du contenu : {digest}" in page

    def test_many_candidates_span_pages(self):
        template = REPORT.candidates[0]
        candidates = tuple(
            replace(template, candidate_number=f"2026-{n:03d}") for n in range(1, 41)
        )
        pages = _pdf_pages(to_pdf(replace(REPORT, candidates=candidates)))
        assert len(pages) > 2
        assert f"Page {len(pages)} sur {len(pages)}" in pages[-1]
        assert "Les membres du jury" in pages[-1]

    def test_provisional_mention(self):
        pages = _pdf_pages(to_pdf(make_report(deliberated=False)))
        assert "Document provisoire : délibération non close" in pages[0]
        assert all("Document provisoire" in page for page in pages)

    def test_letters_helvetica_cannot_draw_lose_their_accent(self):
        first = replace(REPORT.candidates[0], last_name="Nguyễn", first_name="Łucja")
        text = "\n".join(_pdf_pages(to_pdf(replace(REPORT, candidates=(first,)))))
        assert "Candidat n° 2026-001 – Nguyen Lucja" in text
        assert "■" not in text

    def test_markup_in_names_is_text(self):
        first = replace(REPORT.candidates[0], last_name="Dupont & <b>Fils</b>")
        text = "\n".join(_pdf_pages(to_pdf(replace(REPORT, candidates=(first,)))))
        assert "Dupont & <b>Fils</b> Bénédicte" in text


class TestJson:
    def test_data_and_digest(self):
        data = json.loads(to_json(REPORT).decode("utf-8"))
        digest = data.pop("sha256")
        assert digest == content_sha256(REPORT)
        assert data == report_data(REPORT)
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert hashlib.sha256(canonical.encode("utf-8")).hexdigest() == digest

    def test_utf8_not_escaped_and_indented(self):
        text = to_json(REPORT).decode("utf-8")
        assert '"last_name": "Lœvenbruck"' in text
        assert '"percent": "72.50"' in text
        assert "\\u" not in text
        assert text.startswith('{\n  "session_name"')


class TestPseudonymised:
    ANONYMOUS = pseudonymise(REPORT)
    NUMBERS = ("2026-001", "2026-002", "2026-003")

    def _assert_anonymous(self, text: str) -> None:
        folded = text.casefold()
        for name in NAMES:
            assert name.casefold() not in folded
        for number in self.NUMBERS:
            assert number in text

    def test_csv(self):
        data = to_csv(self.ANONYMOUS)
        self._assert_anonymous(data.decode("utf-8-sig"))
        rows = _csv_rows(data)
        assert rows[0][:3] == [
            "Numéro de candidat",
            "Fiscalité des particuliers – score (%)",
            "Fiscalité des particuliers – résultat",
        ]
        assert rows[1][:3] == ["2026-001", "72,5", "Réussi"]
        assert rows[-1] == ["Empreinte SHA-256 du contenu", content_sha256(self.ANONYMOUS)]

    def test_xlsx(self):
        data = to_xlsx(self.ANONYMOUS)
        self._assert_anonymous(_workbook_texts(data))
        sheet = _workbook(data)["Fiscalité des particuliers"]
        assert [cell.value for cell in sheet[2]] == ["2026-001", 14.5, 20, 72.5, "Réussi"]
        assert sheet.freeze_panes == "B2"

    def test_pdf(self):
        data = to_pdf(self.ANONYMOUS)
        text = "\n".join(_pdf_pages(data))
        self._assert_anonymous(text)
        assert "Candidat n° 2026-001\n" in text
        assert "Décision : titre obtenu" in text
        metadata = " ".join(map(str, PdfReader(io.BytesIO(data)).metadata.values()))
        assert "Session de décembre 2026" in metadata
        assert not any(name.casefold() in metadata.casefold() for name in NAMES)

    def test_json(self):
        data = json.loads(to_json(self.ANONYMOUS))
        self._assert_anonymous(json.dumps(data, ensure_ascii=False))
        assert data["candidates"][0]["last_name"] is None
        assert data["sha256"] == content_sha256(self.ANONYMOUS)


def test_exporters_table():
    assert set(EXPORTERS) == {"csv", "xlsx", "pdf", "json"}
    assert EXPORTERS["csv"].media_type == "text/csv; charset=utf-8"
    assert EXPORTERS["pdf"] == (to_pdf, "application/pdf", "pdf")
    for key, (render, media_type, extension) in EXPORTERS.items():
        assert extension == key
        assert media_type
        assert render(REPORT)[:1]
