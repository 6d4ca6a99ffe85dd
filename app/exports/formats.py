"""A session report rendered as CSV, XLSX, PDF procès-verbal or JSON bytes. Pure.

Every format carries ``content_sha256(report)``. A pseudonymised report (no candidate has a
name) is rendered without name columns.
"""

import csv
import io
import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any, NamedTuple
from xml.sax.saxutils import escape

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from app.clock import PARIS, paris_datetime
from app.decimals import plain_decimal
from app.exports.report import (
    CandidateLine,
    QuestionnaireInfo,
    QuestionnaireResult,
    SessionReport,
    content_sha256,
    report_data,
)

SUMMARY_SHEET = "Synthèse"
INFO_SHEET = "Informations"
DIGEST_LABEL = "Empreinte SHA-256 du contenu"
PROVISIONAL = "Document provisoire : délibération non close"


# ---------------------------------------------------------------- shared wording


def _has_names(report: SessionReport) -> bool:
    return any(c.last_name or c.first_name for c in report.candidates)


def _fr_number(value: Decimal | None) -> str:
    """72.50 → « 72,5 »; None → « »."""
    return "" if value is None else format(plain_decimal(value), "f").replace(".", ",")


def _result_label(result: QuestionnaireResult) -> str:
    if result.passed is None:
        return result.status
    return "Réussi" if result.passed else "Non réussi"


def _bloc_label(code: str) -> str:
    """« B1 » → « Bloc 1 »."""
    match = re.fullmatch(r"[Bb](\d+)", code)
    return f"Bloc {match.group(1)}" if match else f"Bloc {code}"


def _bloc_codes(report: SessionReport) -> list[str]:
    """Every bloc code, in order of first appearance."""
    return list(dict.fromkeys(bloc.code for c in report.candidates for bloc in c.blocs))


def _bloc_titles(report: SessionReport) -> dict[str, str]:
    titles: dict[str, str] = {}
    for candidate in report.candidates:
        for bloc in candidate.blocs:
            titles.setdefault(bloc.code, bloc.title)
    return titles


def _bloc_states(candidate: CandidateLine, codes: list[str]) -> list[str]:
    states = {bloc.code: bloc.state for bloc in candidate.blocs}
    return [states.get(code, "") for code in codes]


def _bank_label(questionnaire: QuestionnaireInfo) -> str:
    return f"{questionnaire.bank_id} {questionnaire.bank_version}"


def _deliberation_label(report: SessionReport) -> str:
    return "close" if report.deliberated else "non close – document provisoire"


def _decision_label(candidate: CandidateLine) -> str:
    if candidate.validated_blocs and candidate.certification == "validation partielle":
        blocs = ", ".join(_bloc_label(code) for code in candidate.validated_blocs)
        return f"{candidate.certification} ({blocs})"
    return candidate.certification


def _paris_day(moment: datetime) -> str:
    return moment.astimezone(PARIS).strftime("%d/%m/%Y")


# ---------------------------------------------------------------- CSV


def _csv_text(value: str | None) -> str:
    """Free text as a CSV cell Excel never runs as a formula (« =… » → « '=… »)."""
    text = value or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(report: SessionReport) -> bytes:
    """French Excel CSV: UTF-8 with BOM, `;`, decimal comma, CRLF; metadata rows at the end."""
    named = _has_names(report)
    codes = _bloc_codes(report)
    header = ["Numéro de candidat"] + (["Nom", "Prénom"] if named else [])
    for questionnaire in report.questionnaires:
        title = _csv_text(questionnaire.title)
        header += [f"{title} – score (%)", f"{title} – résultat"]
    header += [_bloc_label(code) for code in codes] + ["Décision"]

    rows: list[list[str]] = [header]
    for candidate in report.candidates:
        row = [_csv_text(candidate.candidate_number)]
        if named:
            row += [_csv_text(candidate.last_name), _csv_text(candidate.first_name)]
        for result in candidate.questionnaires:
            row += [_fr_number(result.percent), _result_label(result)]
        row += _bloc_states(candidate, codes) + [candidate.certification]
        rows.append(row)

    opens, closes = paris_datetime(report.opens_at), paris_datetime(report.closes_at)
    rows += [
        [],
        ["Session", _csv_text(report.session_name), f"du {opens} au {closes} (heure de Paris)"],
        ["Généré le", f"{paris_datetime(report.generated_at)} (heure de Paris)"],
        ["Délibération", _deliberation_label(report)],
        ["Banques"] + [_csv_text(_bank_label(q)) for q in report.questionnaires],
        [DIGEST_LABEL, content_sha256(report)],
    ]
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";", lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode("utf-8-sig")


# ---------------------------------------------------------------- XLSX

_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
BOLD = Font(bold=True)


def _sheet_titles(report: SessionReport) -> list[str]:
    """One valid, unique Excel sheet name per questionnaire (≤ 31 characters, no []:*?/\\)."""
    taken = {SUMMARY_SHEET.casefold(), INFO_SHEET.casefold(), "history"}
    titles = []
    for index, questionnaire in enumerate(report.questionnaires, start=1):
        base = ILLEGAL_CHARACTERS_RE.sub("", _SHEET_FORBIDDEN.sub("-", questionnaire.title))
        base = base.strip().strip("'").strip()[:31].rstrip("'").strip()
        base = base or f"Questionnaire {index}"
        title, counter = base, 1
        while title.casefold() in taken:
            counter += 1
            suffix = f" ({counter})"
            title = base[: 31 - len(suffix)].rstrip() + suffix
        taken.add(title.casefold())
        titles.append(title)
    return titles


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return plain_decimal(value)
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    return value


def _append(sheet: Worksheet, values: Iterable[Any], *, bold: bool = False) -> None:
    sheet.append([_xlsx_value(value) for value in values])
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"  # text stays text: « =… » is never stored as a formula
        if bold:
            cell.font = BOLD


def _finish(sheet: Worksheet, *, freeze: str | None, number_formats: dict[int, str]) -> None:
    for column, number_format in number_formats.items():
        for (cell,) in sheet.iter_rows(min_row=2, min_col=column, max_col=column):
            cell.number_format = number_format
    for index, column in enumerate(sheet.iter_cols(), start=1):
        longest = max(
            (len(str(cell.value)) for cell in column if cell.value is not None), default=0
        )
        sheet.column_dimensions[get_column_letter(index)].width = min(max(longest + 2, 10), 60)
    if freeze:
        sheet.freeze_panes = freeze


def to_xlsx(report: SessionReport) -> bytes:
    """« Synthèse », a sheet per questionnaire, « Informations »; scores are number cells."""
    named = _has_names(report)
    identity = ["Numéro de candidat"] + (["Nom", "Prénom"] if named else [])
    first_data_column = get_column_letter(len(identity) + 1)

    def who(candidate: CandidateLine) -> list[Any]:
        names = [candidate.last_name, candidate.first_name] if named else []
        return [candidate.candidate_number, *names]

    workbook = Workbook()
    workbook.properties.title = f"Résultats – {report.session_name}"
    workbook.properties.creator = "ccpq"

    summary = workbook.active
    summary.title = SUMMARY_SHEET
    codes = _bloc_codes(report)
    titles = _bloc_titles(report)
    _append(
        summary,
        identity
        + [f"{_bloc_label(code)} – {titles[code]}" for code in codes]
        + ["Décision", "Blocs validés"],
        bold=True,
    )
    for candidate in report.candidates:
        _append(
            summary,
            who(candidate)
            + _bloc_states(candidate, codes)
            + [candidate.certification, ", ".join(candidate.validated_blocs)],
        )
    _finish(summary, freeze=f"{first_data_column}2", number_formats={})

    for position, title in enumerate(_sheet_titles(report)):
        sheet = workbook.create_sheet(title)
        _append(sheet, identity + ["Points", "Maximum", "Pourcentage (%)", "Résultat"], bold=True)
        for candidate in report.candidates:
            result = candidate.questionnaires[position]
            _append(
                sheet,
                who(candidate)
                + [result.points, result.max_points, result.percent, _result_label(result)],
            )
        percent_column = len(identity) + 3
        _finish(sheet, freeze=f"{first_data_column}2", number_formats={percent_column: "0.00"})
        sheet.auto_filter.ref = sheet.dimensions

    info = workbook.create_sheet(INFO_SHEET)
    opens, closes = paris_datetime(report.opens_at), paris_datetime(report.closes_at)
    for label, value in [
        ("Session", report.session_name),
        ("Ouverture", f"{opens} (heure de Paris)"),
        ("Clôture", f"{closes} (heure de Paris)"),
        ("Généré le", f"{paris_datetime(report.generated_at)} (heure de Paris)"),
        ("Délibération", _deliberation_label(report)),
        (DIGEST_LABEL, content_sha256(report)),
    ]:
        _append(info, [label, value])
        info.cell(row=info.max_row, column=1).font = BOLD
    info.append([])
    _append(
        info,
        ["Questionnaire", "Thème", "Banque", "Version", "Seuil de réussite (%)"],
        bold=True,
    )
    bank_header_row = info.max_row
    for questionnaire in report.questionnaires:
        _append(
            info,
            [
                questionnaire.title,
                questionnaire.theme,
                questionnaire.bank_id,
                questionnaire.bank_version,
                questionnaire.threshold_percent,
            ],
        )
    _finish(info, freeze=None, number_formats={})
    info.column_dimensions["B"].width = 70  # the 64-character digest

    for row in info.iter_rows(min_row=bank_header_row + 1, min_col=5, max_col=5):
        row[0].number_format = "0.##"

    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# ---------------------------------------------------------------- PDF

# Outside WinAnsi, Helvetica has no glyph: those letters are spelled without their accent.
_PDF_FALLBACK = str.maketrans({"ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ı": "i", "ħ": "h"})


def _pdf_plain(value: str | None) -> str:
    """Text Helvetica (WinAnsi) can draw: é è à ç ô œ Œ € kept, « ễ » → « e », else « ? »."""
    spelled = []
    for char in (value or "").translate(_PDF_FALLBACK):
        try:
            char.encode("cp1252")
        except UnicodeEncodeError:
            decomposed = unicodedata.normalize("NFKD", char)
            base = "".join(c for c in decomposed if not unicodedata.combining(c))
            try:
                base.encode("cp1252")
            except UnicodeEncodeError:
                base = "?"
            spelled.append(base or "?")
        else:
            spelled.append(char)
    return "".join(spelled)


def _pdf_text(value: str | None) -> str:
    """User text inside a Paragraph: drawable and XML-escaped."""
    return escape(_pdf_plain(value))


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName="Helvetica", fontSize=9.5, leading=12)
    return {
        "title": ParagraphStyle(
            "title",
            parent=base,
            fontName="Helvetica-Bold",
            fontSize=17,
            leading=22,
            alignment=TA_CENTER,
            spaceAfter=8,
        ),
        "provisional": ParagraphStyle(
            "provisional",
            parent=base,
            fontName="Helvetica-Bold",
            fontSize=11,
            leading=14,
            alignment=TA_CENTER,
            textColor=colors.HexColor("#b00020"),
            borderColor=colors.HexColor("#b00020"),
            borderWidth=1,
            borderPadding=5,
            spaceBefore=4,
            spaceAfter=10,
        ),
        "h2": ParagraphStyle(
            "h2",
            parent=base,
            fontName="Helvetica-Bold",
            fontSize=12.5,
            leading=16,
            spaceBefore=10,
            spaceAfter=5,
        ),
        "h3": ParagraphStyle(
            "h3",
            parent=base,
            fontName="Helvetica-Bold",
            fontSize=10.5,
            leading=13,
            spaceBefore=8,
            spaceAfter=4,
        ),
        "body": base,
        "cell": ParagraphStyle("cell", parent=base, fontSize=8.5, leading=10.5),
        "head": ParagraphStyle(
            "head", parent=base, fontName="Helvetica-Bold", fontSize=8.5, leading=10.5
        ),
        "decision": ParagraphStyle(
            "decision", parent=base, fontName="Helvetica-Bold", spaceBefore=4, spaceAfter=4
        ),
    }


def _grid(rows: list[list[str]], widths: list[float], styles: dict[str, ParagraphStyle]) -> Table:
    """A table whose first row is a header; every cell is already-escaped Paragraph markup."""
    cells = [
        [Paragraph(text, styles["head" if index == 0 else "cell"]) for text in row]
        for index, row in enumerate(rows)
    ]
    table = Table(cells, colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#9a9a9a")),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e6e6e6")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return table


def _display_name(candidate: CandidateLine) -> str:
    """« Lœvenbruck Bénédicte » as entered; « » when pseudonymised."""
    parts = (candidate.last_name or "", candidate.first_name or "")
    return " ".join(part for part in parts if part)


def _candidate_heading(candidate: CandidateLine) -> str:
    """« Candidat n° 2026-001 – Lœvenbruck Bénédicte » (number only when pseudonymised)."""
    name = _display_name(candidate)
    heading = f"Candidat n° {candidate.candidate_number}"
    return f"{heading} – {name}" if name else heading


def _score_text(result: QuestionnaireResult) -> tuple[str, str]:
    points = (
        f"{_fr_number(result.points)} / {_fr_number(result.max_points)}"
        if result.points is not None and result.max_points is not None
        else "–"
    )
    percent = f"{_fr_number(result.percent)} %" if result.percent is not None else "–"
    return points, percent


class _NumberedCanvas(Canvas):
    """Draws the footer once the page count is known: « Page N sur M » and the digest."""

    def __init__(self, *args: Any, footer: tuple[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._footer = footer
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:  # noqa: N802 - reportlab's name
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for number, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            self._draw_footer(number, total)
            super().showPage()
        super().save()

    def _draw_footer(self, number: int, total: int) -> None:
        left_line, digest_line = self._footer
        width, _ = A4
        self.saveState()
        self.setStrokeColor(colors.HexColor("#9a9a9a"))
        self.setLineWidth(0.5)
        self.line(2 * cm, 1.75 * cm, width - 2 * cm, 1.75 * cm)
        self.setFillColor(colors.black)
        self.setFont("Helvetica", 8)
        self.drawString(2 * cm, 1.35 * cm, left_line)
        self.drawRightString(width - 2 * cm, 1.35 * cm, f"Page {number} sur {total}")
        self.setFont("Helvetica", 7)
        self.drawString(2 * cm, 0.95 * cm, digest_line)
        self.restoreState()


def to_pdf(report: SessionReport) -> bytes:
    """The procès-verbal de délibération, A4, Helvetica, « Page N sur M » and digest footer."""
    styles = _styles()
    digest = content_sha256(report)
    width = A4[0] - 4 * cm
    story: list[Flowable] = [Paragraph("Procès-verbal de délibération", styles["title"])]
    if not report.deliberated:
        story.append(Paragraph(PROVISIONAL, styles["provisional"]))
    opens, closes = paris_datetime(report.opens_at), paris_datetime(report.closes_at)
    story += [
        Paragraph(f"<b>Session :</b> {_pdf_text(report.session_name)}", styles["body"]),
        Paragraph(
            f"<b>Ouverture :</b> {opens} – <b>Clôture :</b> {closes} (heure de Paris)",
            styles["body"],
        ),
        Paragraph(
            "<b>Certification :</b> Chargé de clientèle particuliers – Niveau 6", styles["body"]
        ),
        Paragraph("Questionnaires et banques de questions", styles["h2"]),
        _grid(
            [["Questionnaire", "Banque de questions", "Version", "Seuil de réussite"]]
            + [
                [
                    _pdf_text(q.title),
                    _pdf_text(q.bank_id),
                    _pdf_text(q.bank_version),
                    f"{_fr_number(q.threshold_percent)} %",
                ]
                for q in report.questionnaires
            ],
            [width * 0.40, width * 0.28, width * 0.14, width * 0.18],
            styles,
        ),
        Paragraph("Décisions", styles["h2"]),
        _grid(
            [["N° de candidat", "Candidat", "Blocs validés", "Décision"]]
            + [
                [
                    _pdf_text(c.candidate_number),
                    _pdf_text(_display_name(c)) or "–",
                    _pdf_text(", ".join(c.validated_blocs)) or "–",
                    _pdf_text(c.certification),
                ]
                for c in report.candidates
            ],
            [width * 0.18, width * 0.40, width * 0.18, width * 0.24],
            styles,
        ),
        Paragraph("Résultats détaillés", styles["h2"]),
    ]
    if not report.candidates:
        story.append(Paragraph("Aucun candidat inscrit à cette session.", styles["body"]))
    for candidate in report.candidates:
        results = zip(report.questionnaires, candidate.questionnaires, strict=True)
        block: list[Flowable] = [
            Paragraph(_pdf_text(_candidate_heading(candidate)), styles["h3"]),
            _grid(
                [["Questionnaire", "Points", "Score", "Résultat"]]
                + [
                    [_pdf_text(q.title), *_score_text(result), _pdf_text(_result_label(result))]
                    for q, result in results
                ],
                [width * 0.46, width * 0.18, width * 0.14, width * 0.22],
                styles,
            ),
            Spacer(1, 4),
        ]
        if candidate.blocs:
            block += [
                _grid(
                    [["Bloc", "Intitulé", "État"]]
                    + [
                        [_pdf_text(_bloc_label(b.code)), _pdf_text(b.title), _pdf_text(b.state)]
                        for b in candidate.blocs
                    ],
                    [width * 0.14, width * 0.64, width * 0.22],
                    styles,
                ),
            ]
        block.append(
            Paragraph(f"Décision : {_pdf_text(_decision_label(candidate))}", styles["decision"])
        )
        story.append(KeepTogether(block))

    signatures = Table(
        [
            [
                Paragraph("<b>Le président du jury</b>", styles["body"]),
                Paragraph("<b>Les membres du jury</b>", styles["body"]),
            ],
            [
                Paragraph("Nom et signature :", styles["cell"]),
                Paragraph("Noms et signatures :", styles["cell"]),
            ],
            ["", ""],
        ],
        colWidths=[width / 2, width / 2],
        rowHeights=[None, None, 3 * cm],
        hAlign="LEFT",
    )
    signatures.setStyle(
        TableStyle(
            [
                ("BOX", (0, 0), (0, -1), 0.5, colors.HexColor("#9a9a9a")),
                ("BOX", (1, 0), (1, -1), 0.5, colors.HexColor("#9a9a9a")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    story.append(
        KeepTogether(
            [
                Spacer(1, 14),
                Paragraph(f"Fait le {_paris_day(report.generated_at)}", styles["body"]),
                Spacer(1, 8),
                signatures,
            ]
        )
    )

    session = _pdf_plain(report.session_name)
    left_line = f"{PROVISIONAL} – {session}" if not report.deliberated else session
    if len(left_line) > 95:
        left_line = left_line[:94] + "…"
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=2 * cm,
        rightMargin=2 * cm,
        topMargin=1.8 * cm,
        bottomMargin=2.4 * cm,
        title=f"Procès-verbal de délibération – {report.session_name}",
        author="ccpq",
        subject="Chargé de clientèle particuliers – Niveau 6",
        lang="fr-FR",
    )
    document.build(
        story,
        canvasmaker=partial(_NumberedCanvas, footer=(left_line, f"{DIGEST_LABEL} : {digest}")),
    )
    return buffer.getvalue()


# ---------------------------------------------------------------- JSON


def to_json(report: SessionReport) -> bytes:
    """``report_data`` plus its ``sha256``; UTF-8, not ASCII-escaped, indented."""
    data = report_data(report)
    data["sha256"] = content_sha256(report)
    return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


class Exporter(NamedTuple):
    render: Callable[[SessionReport], bytes]
    media_type: str
    extension: str  # without the dot


EXPORTERS: dict[str, Exporter] = {
    "csv": Exporter(to_csv, "text/csv; charset=utf-8", "csv"),
    "xlsx": Exporter(
        to_xlsx, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"
    ),
    "pdf": Exporter(to_pdf, "application/pdf", "pdf"),
    "json": Exporter(to_json, "application/json", "json"),
}
