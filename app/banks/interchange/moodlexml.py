"""Moodle XML ↔ the bank dict. Pure: no DB, no web; XML is parsed only through defusedxml.

Import: ``multichoice`` (``<single>`` true → single choice, false → multiple choice),
``truefalse`` and ``numerical`` (tolerance, unit of multiplier 1) become bank questions;
every other type (``shortanswer``, ``essay``, ``matching``, ``multianswer`` (cloze),
``description``…) is reported as skipped. A ``<category>`` question switches the topic: its
``<idnumber>`` when it is a valid identifier, otherwise the slug of the path's last segment.
Like Moodle, a file whose answers use a fraction outside Moodle's grade list is refused,
naming the question. HTML texts are sanitised with nh3 and written as simple Markdown;
``@@PLUGINFILE@@/name`` images whose ``<file encoding="base64">`` is given become ``data:``
URIs when small (see ``common.MAX_IMAGE_BYTES``), otherwise they are reported.

Export writes texts with ``format="markdown"`` (exactly the bank's text), a category per
topic (``idnumber`` = topic identifier), the question identifier as name and idnumber.
"""

from __future__ import annotations

import base64
import binascii
import posixpath
import xml.etree.ElementTree as ET
from datetime import date
from decimal import Decimal
from urllib.parse import unquote

from app.banks.format import BankDocument, ChoiceQuestion, NumericQuestion, TrueFalseQuestion
from app.banks.interchange.common import (
    MOODLE_GRADES,
    ConversionError,
    Draft,
    ExportResult,
    ImportResult,
    TextContext,
    as_document,
    category_path,
    category_segments,
    choice_from_fractions,
    export_warnings,
    fraction_weights,
    is_moodle_fraction,
    number_text,
    parse_decimal,
    parse_xml,
    percent_text,
    strip_tags,
    to_markdown,
    unsupported_reason,
)

_GRADED_TYPES = ("multichoice", "truefalse", "numerical", "shortanswer")


def import_moodlexml(data: bytes, *, filename: str, today: date | None = None) -> ImportResult:
    """Read a Moodle XML file into the bank dict, with skipped questions and warnings."""
    root = parse_xml(data, filename)
    if root.tag != "quiz":
        raise ConversionError(
            f"{filename}: pas un fichier Moodle XML (élément racine « {root.tag} », "
            "« quiz » attendu)"
        )
    questions = root.findall("question")
    _check_fractions(questions, filename)
    draft = Draft(filename=filename, source="Moodle XML", today=today or date.today())
    category, category_id = None, None
    for question in questions:
        kind = question.get("type", "")
        if kind == "category":
            path = question.findtext("category/text") or question.findtext("category") or ""
            segments = category_segments(path.strip())
            category = segments[-1] if segments else None
            category_id = (question.findtext("idnumber") or "").strip() or None
            continue
        name = _name(question)
        if kind not in ("multichoice", "truefalse", "numerical"):
            draft.skip(name, kind or "inconnu", unsupported_reason(kind or "inconnu"))
            continue
        _read_question(draft, question, kind, name, draft.topic(category, slug=category_id))
    return draft.result()


def _name(question) -> str:
    return strip_tags(question.findtext("name/text") or "") or "(sans nom)"


def _check_fractions(questions, filename: str) -> None:
    for question in questions:
        if question.get("type") not in _GRADED_TYPES:
            continue
        for answer in question.findall("answer"):
            raw = (answer.get("fraction") or "0").strip()
            value = parse_decimal(raw)
            if value is None or not is_moodle_fraction(value):
                grades = ", ".join(percent_text(g) for g in MOODLE_GRADES)
                raise ConversionError(
                    f"{filename}: question « {_name(question)} » : fraction « {raw} » invalide "
                    f"(Moodle n'accepte que {grades} et leurs négatifs) : fichier refusé"
                )


class _Files:
    """The ``<file encoding="base64">`` children of text elements, by path and name."""

    def __init__(self, *elements) -> None:
        self.files: dict[str, str] = {}
        for element in elements:
            if element is None:
                continue
            for file in element.findall("file"):
                name = file.get("name") or ""
                path = (file.get("path") or "/").strip("/")
                key = posixpath.join(path, name) if path else name
                self.files[key] = (file.text or "").strip()

    def __call__(self, src: str) -> tuple[str, bytes] | None:
        prefix = "@@PLUGINFILE@@/"
        if not src.startswith(prefix):
            return None
        key = unquote(src[len(prefix) :].split("?")[0])
        payload = self.files.get(key) or self.files.get(posixpath.basename(key))
        if payload is None:
            return None
        try:
            return posixpath.basename(key), base64.b64decode(payload)
        except (binascii.Error, ValueError):
            return None


def _text(element, ctx: TextContext, default_format: str = "html", *, inline=False) -> str:
    if element is None:
        return ""
    fmt = element.get("format") or default_format
    return to_markdown(element.findtext("text") or "", fmt, ctx, inline=inline)


def _read_question(draft: Draft, question, kind: str, name: str, topic: str) -> None:
    stem_element = question.find("questiontext")
    feedback_element = question.find("generalfeedback")
    stem_format = (stem_element.get("format") if stem_element is not None else None) or "html"
    where = f"question « {name} »"
    stem = _text(stem_element, TextContext(where, draft.warnings, _Files(stem_element)))
    explanation = _text(
        feedback_element, TextContext(where, draft.warnings, _Files(feedback_element))
    )
    qid = draft.question_id((question.findtext("idnumber") or "").strip(), name)
    common = {"name": name, "qid": qid, "topic": topic, "stem": stem, "explanation": explanation}
    answers = question.findall("answer")
    if any(strip_tags(a.findtext("feedback/text") or "") for a in answers):
        draft.warn(
            f"{where} : retours par réponse non repris (la banque n'a qu'une explication "
            "par question)"
        )
    if kind == "multichoice":
        single = (question.findtext("single") or "true").strip().lower() in ("true", "1")
        texts = [
            _text(a, TextContext(where, draft.warnings, _Files(a)), stem_format, inline=True)
            for a in answers
        ]
        fractions = [_fraction(a) for a in answers]
        key = choice_from_fractions(fractions, single=single)
        if isinstance(key, str):
            draft.skip(name, kind, key)
            return
        draft.add_choice(texts=texts, key=key, source_type=kind, **common)
    elif kind == "truefalse":
        answer = _true_false(answers)
        if answer is None:
            draft.skip(name, kind, "réponses « true » et « false » introuvables")
            return
        draft.add_true_false(answer=answer, source_type=kind, **common)
    else:
        _numerical(draft, question, answers, common)


def _fraction(answer) -> Decimal:
    """An answer's fraction, already checked against Moodle's grade list."""
    return parse_decimal(answer.get("fraction") or "0") or Decimal(0)


def _true_false(answers) -> bool | None:
    for answer in answers:
        text = (answer.findtext("text") or "").strip().lower()
        full = _fraction(answer) >= Decimal("99.999")
        if text == "true":
            return full
        if text == "false":
            return not full
    return None


def _numerical(draft: Draft, question, answers, common: dict) -> None:
    name = common["name"]
    values = []
    for answer in answers:
        text = (answer.findtext("text") or "").strip()
        if text == "*":
            continue
        number = parse_decimal(text)
        tolerance = parse_decimal(answer.findtext("tolerance") or "0")
        if number is None or tolerance is None:
            draft.skip(name, "numerical", f"valeur numérique illisible « {text} »")
            return
        values.append((_fraction(answer), number, abs(tolerance)))
    right = [v for v in values if v[0] >= Decimal("99.999")]
    if not right:
        draft.skip(name, "numerical", "aucune réponse numérique à 100 %")
        return
    if len(values) > 1:
        draft.warn(
            f"question « {name} » : seule la première réponse à 100 % est reprise "
            "(réponses multiples ou partiellement justes ignorées)"
        )
    unit = None
    for element in question.findall("units/unit"):
        if parse_decimal(element.findtext("multiplier") or "1") == 1:
            unit = (element.findtext("unit_name") or "").strip() or None
            break
    draft.add_numeric(
        answer=right[0][1], tolerance=right[0][2], unit=unit, source_type="numerical", **common
    )


# ─── Export ─────────────────────────────────────────────────────────────────────────────


def export_moodlexml(bank: dict | BankDocument) -> ExportResult:
    """The bank as a Moodle XML file (UTF-8)."""
    document = as_document(bank)
    quiz = ET.Element("quiz")
    quiz.append(
        ET.Comment(
            f" Banque « {document.title} » ({document.id}), version {document.version} : "
            "export Moodle XML de ccpq "
        )
    )
    current = None
    for question in document.questions:
        if question.topic != current:
            current = question.topic
            category = _sub(quiz, "question", type="category")
            _sub(_sub(category, "category"), "text").text = category_path(
                " ".join(document.title.split()), " ".join(document.topics[current].split())
            )
            _sub(_sub(category, "info", format="markdown"), "text").text = ""
            _sub(category, "idnumber").text = current
        _question(quiz, question, document)
    ET.indent(quiz)
    text = ET.tostring(quiz, encoding="unicode")
    data = f'<?xml version="1.0" encoding="UTF-8"?>\n{text}\n'.encode()
    return ExportResult(data, export_warnings(document, "Moodle XML"))


def _sub(parent, tag: str, **attributes) -> ET.Element:
    return ET.SubElement(parent, tag, attributes)


def _markdown(parent, tag: str, text: str, **attributes) -> ET.Element:
    element = _sub(parent, tag, format="markdown", **attributes)
    _sub(element, "text").text = text
    return element


def _question(quiz, question, document: BankDocument) -> None:
    kinds = {"true_false": "truefalse", "numeric": "numerical"}
    element = _sub(quiz, "question", type=kinds.get(question.type, "multichoice"))
    _sub(_sub(element, "name"), "text").text = question.id
    _markdown(element, "questiontext", question.stem)
    _markdown(element, "generalfeedback", question.explanation)
    _sub(element, "defaultgrade").text = "1"
    _sub(element, "penalty").text = "0"
    _sub(element, "hidden").text = "0"
    _sub(element, "idnumber").text = question.id
    if isinstance(question, ChoiceQuestion):
        single = question.type == "single_choice"
        _sub(element, "single").text = "true" if single else "false"
        _sub(element, "shuffleanswers").text = "true"
        _sub(element, "answernumbering").text = "abc"
        right = Decimal(100) if single else fraction_weights(len(question.correct_option_ids))
        wrong = Decimal(0) if single else (-right if document.partial_credit else Decimal(-100))
        for option in question.options:
            fraction = percent_text(right if option.correct else wrong)
            answer = _markdown(element, "answer", option.text, fraction=fraction)
            _markdown(answer, "feedback", "")
    elif isinstance(question, TrueFalseQuestion):
        for value in (True, False):
            fraction = "100" if value == question.answer else "0"
            answer = _sub(element, "answer", fraction=fraction, format="moodle_auto_format")
            _sub(answer, "text").text = "true" if value else "false"
            _markdown(answer, "feedback", "")
    else:
        assert isinstance(question, NumericQuestion)
        answer = _sub(element, "answer", fraction="100", format="moodle_auto_format")
        _sub(answer, "text").text = number_text(question.answer)
        _markdown(answer, "feedback", "")
        _sub(answer, "tolerance").text = number_text(question.tolerance)
        if question.unit:
            unit = _sub(_sub(element, "units"), "unit")
            _sub(unit, "multiplier").text = "1"
            _sub(unit, "unit_name").text = question.unit
        _sub(element, "unitgradingtype").text = "0"
        _sub(element, "unitpenalty").text = "0.1000000"
        _sub(element, "showunits").text = "3"
        _sub(element, "unitsleft").text = "0"
