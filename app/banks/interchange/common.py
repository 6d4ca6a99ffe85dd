"""What every interchange format shares: the intermediate bank dict, reports, text conversion.

Pure: no DB, no web. The intermediate is the dict shape of
``BankDocument.model_dump(mode="json")`` (header + questions). Importers build it through
``Draft``, which fills what a format lacks with explicit placeholders (listed in the
warnings) and reports every question it cannot represent (``Skipped``), never dropping one
silently. Foreign HTML is sanitised with nh3, then turned into simple Markdown, because the
application renders Markdown with raw HTML disabled: HTML kept as such would be shown as
literal tags.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import posixpath
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from html import escape, unescape
from html.parser import HTMLParser
from urllib.parse import quote, unquote

import nh3
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring
from pydantic import ValidationError

from app.banks.format import BankDocument, NumericQuestion, _pydantic_problems, _where
from app.decimals import plain_decimal

MAX_INPUT_BYTES = 64 * 1024 * 1024
MAX_IMAGE_BYTES = 200_000  # a larger image is reported, not embedded as a data: URI
MAX_TEXT = 20_000  # BankDocument's limit on a stem, an explanation, an option
MAX_LABEL = 500
MAX_OPTIONS = 8

PLACEHOLDER_EXPLANATION = "À compléter : explication."
PLACEHOLDER_THEME = "a-completer"
PLACEHOLDER_COMPETENCE = "À compléter"
PLACEHOLDER_AUTHOR = "À compléter"
DEFAULT_DIFFICULTY = 2
DEFAULT_TOPIC = ("a-classer", "À classer")

# Moodle's grade list (question_bank::fraction_options_full), in percent.
MOODLE_GRADES = tuple(
    Decimal(value)
    for value in (
        "100 90 83.33333 80 75 70 66.66667 60 50 40 33.33333 "  # not-a-threshold
        "30 25 20 16.66667 14.28571 12.5 11.11111 10 5 0"
    ).split()
)
MOODLE_FRACTIONS = frozenset(MOODLE_GRADES) | frozenset(-grade for grade in MOODLE_GRADES)

UNSUPPORTED_TYPES = {
    "essay": "question à réponse rédigée",
    "shortanswer": "question à réponse courte",
    "match": "question d'appariement",
    "matching": "question d'appariement",
    "missingword": "question à mot manquant",
    "multianswer": "question à trous (cloze)",
    "cloze": "question à trous (cloze)",
    "description": "texte descriptif, sans question",
    "ddwtos": "glisser-déposer dans un texte",
    "ddimageortext": "glisser-déposer sur une image",
    "ddmarker": "glisser-déposer de marqueurs",
    "gapselect": "sélection de mots manquants",
    "calculated": "question calculée",
    "calculatedsimple": "question calculée",
    "calculatedmulti": "question calculée à choix multiple",
    "randomsamatch": "appariement aléatoire",
    "ordering": "question de classement",
}


def unsupported_reason(kind: str, description: str | None = None) -> str:
    what = description or UNSUPPORTED_TYPES.get(kind, f"type « {kind} »")
    return (
        f"{what} : la banque ne connaît que le choix unique, le choix multiple, "
        "le vrai/faux et la réponse numérique"
    )


class ConversionError(ValueError):
    """An input that cannot be converted; the message is French and names the file."""

    def __init__(self, message: str, skipped: list[Skipped] | None = None) -> None:
        super().__init__(message)
        self.skipped = list(skipped or [])


@dataclass(frozen=True)
class Skipped:
    """A question of the source that the bank cannot represent."""

    name: str
    type: str
    reason: str

    def __str__(self) -> str:
        return f"question ignorée : {self.name} ({self.type}) : {self.reason}"


@dataclass
class ImportResult:
    bank: dict
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class ExportResult:
    data: bytes
    warnings: list[str] = field(default_factory=list)


# ─── Small helpers ──────────────────────────────────────────────────────────────────────

_TRANSLIT = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss", "ø": "o"})


def slugify(text: str, *, max_length: int = 80) -> str:
    """« Barème de l'impôt » → ``bareme-de-l-impot`` (the bank's identifier pattern)."""
    text = unicodedata.normalize("NFKD", text.translate(_TRANSLIT))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    slug = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    return slug[:max_length].rstrip("-")


def strip_tags(text: str) -> str:
    """A name written with HTML, as plain text (for messages and identifiers)."""
    return " ".join(unescape(re.sub(r"</?[A-Za-z][^<>]*>", "", text)).split())


def decode_utf8(data: bytes, filename: str) -> str:
    """The text of a file that must be UTF-8, or a French refusal naming the file."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ConversionError(
            f"{filename}: le fichier n'est pas encodé en UTF-8 (octet 0x{data[error.start]:02X} "
            f"invalide, ligne {line}) : enregistrez-le en UTF-8 puis recommencez"
        ) from None


def parse_xml(data: bytes, filename: str):
    """The root element, parsed only through defusedxml (no entity expansion, no external)."""
    try:
        return fromstring(data)
    except ParseError as error:
        line, column = getattr(error, "position", (1, 0))
        raise ConversionError(
            f"{filename}: XML invalide ligne {line}, colonne {column + 1} : "
            f"{str(error).split(':')[0]}"
        ) from None
    except DefusedXmlException as error:
        raise ConversionError(
            f"{filename}: XML refusé : entités ou références externes interdites "
            f"({type(error).__name__})"
        ) from None


def local_name(tag) -> str:
    """``{namespace}name`` → ``name``."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def category_segments(path: str) -> list[str]:
    """Moodle category path ``$course$/top/A//B`` → ``["A/B"]`` (``//`` is a literal ``/``)."""
    parts = [p.replace("\0", "/").strip() for p in path.replace("//", "\0").split("/")]
    return [p for p in parts if p and p not in ("$course$", "$system$", "$module$", "$cat$")]


def category_path(*segments: str) -> str:
    return "/".join(["$course$", "top", *(s.replace("/", "//") for s in segments)])


_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,4})?", re.ASCII)


def parse_decimal(text: str | None) -> Decimal | None:
    """A number written in ASCII (``17.2``, ``-3``, ``1e3``) within ±10^30, else None."""
    text = (text or "").strip()
    if not _NUMBER.fullmatch(text):
        return None
    value = Decimal(text)
    if value and not -30 <= value.adjusted() <= 30:
        return None
    return value


def number_text(value: Decimal) -> str:
    return format(plain_decimal(value), "f")


def percent_text(value: Decimal) -> str:
    """100/3 → ``33.33333`` (Moodle's precision), 50 → ``50``."""
    return number_text(value.quantize(Decimal("0.00001")))


def is_moodle_fraction(value: Decimal) -> bool:
    return any(abs(value - grade) < Decimal("0.001") for grade in MOODLE_FRACTIONS)


def fraction_weights(correct: int) -> Decimal:
    return Decimal(100) / Decimal(correct)


def validate_bank(bank: dict, *, filename: str) -> BankDocument:
    """``BankDocument.model_validate`` with the bank format's French messages."""
    try:
        return BankDocument.model_validate(bank)
    except ValidationError as error:
        problems = [f"{_where(path, bank)}{message}" for path, message in _pydantic_problems(error)]
        raise ConversionError(
            f"{filename}: le résultat n'est pas une banque valide : " + " ; ".join(problems)
        ) from None


def as_document(bank: dict | BankDocument) -> BankDocument:
    return bank if isinstance(bank, BankDocument) else validate_bank(bank, filename="banque")


def export_warnings(document: BankDocument, target: str) -> list[str]:
    warnings = [
        f"{target} : difficulté, compétences, références et validité des questions ne sont "
        "pas exportées"
    ]
    units = [q.id for q in document.questions if isinstance(q, NumericQuestion) and q.unit]
    if units and target == "GIFT":
        warnings.append(f"GIFT : unités non exportées ({', '.join(units)})")
    multiple = [q.id for q in document.questions if q.type == "multiple_choice"]
    if multiple and not document.partial_credit:
        warnings.append(
            f"{target} : choix multiple tout ou rien exporté avec des fractions (100 %/n par "
            "bonne réponse, -100 % par mauvaise) : Moodle accorde un crédit partiel à qui "
            f"coche une partie des bonnes réponses ({', '.join(multiple)})"
        )
    return warnings


# ─── Choice keys from fractions (GIFT, Moodle XML) ──────────────────────────────────────


@dataclass(frozen=True)
class ChoiceKey:
    type: str
    correct: tuple[bool, ...]
    notes: tuple[str, ...] = ()
    partial_credit: bool = False


def choice_from_fractions(fractions: list[Decimal], *, single: bool) -> ChoiceKey | str:
    """The bank's key for answers weighted in percent; a str is the reason it cannot be.

    ``single``: one answer expected (GIFT ``=``, Moodle ``<single>true``); the answer at
    100 % is the key. Otherwise every positive fraction is a correct option; if positive
    fractions differ or negative ones are not -100 %, the bank's partial credit is the
    nearest rule (``partial_credit``), with a note that fractions were approximated.
    """
    full = [f >= Decimal("99.999") for f in fractions]
    shown = ", ".join(f"{percent_text(f)} %" for f in fractions)
    if single:
        count = sum(full)
        if count == 0:
            return "aucune réponse à 100 % : pas de bonne réponse à reprendre"
        notes = []
        if any(0 < f < Decimal("99.999") for f in fractions):
            notes.append(
                f"fractions {shown} approchées : les réponses partiellement justes "
                "deviennent fausses (choix unique)"
            )
        if count == 1:
            return ChoiceKey("single_choice", tuple(full), tuple(notes))
        notes.append(
            f"{count} réponses à 100 % : convertie en choix multiple "
            "(le candidat doit cocher toutes les bonnes réponses)"
        )
        return ChoiceKey("multiple_choice", tuple(full), tuple(notes))
    correct = tuple(f > 0 for f in fractions)
    if not any(correct):
        return "aucune réponse de fraction positive : pas de bonne réponse à reprendre"
    positives = {f for f in fractions if f > 0}
    negatives = [f for f in fractions if f < 0]
    if len(positives) > 1 or any(f != -100 for f in negatives):
        return ChoiceKey(
            "multiple_choice",
            correct,
            (
                f"fractions {shown} approchées par le crédit partiel de la banque "
                "(bonnes cases cochées moins mauvaises, divisé par le nombre de bonnes "
                "réponses) : partial_credit: true",
            ),
            partial_credit=True,
        )
    return ChoiceKey("multiple_choice", correct)


# ─── The bank being imported ────────────────────────────────────────────────────────────


@dataclass
class Draft:
    """Accumulates an imported bank: placeholders, skipped questions, warnings."""

    filename: str
    source: str  # « GIFT », « Moodle XML »…
    today: date
    topics: dict[str, str] = field(default_factory=dict)
    questions: list[dict] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    partial_credit: bool = False
    _ids: set[str] = field(default_factory=set)
    _no_explanation: list[str] = field(default_factory=list)
    _default_topic: list[str] = field(default_factory=list)

    def topic(self, label: str | None, *, slug: str | None = None) -> str:
        """The topic of a category label (slug of the label), declared on first use."""
        if not label or not label.strip():
            key, text = DEFAULT_TOPIC
            self.topics.setdefault(key, text)
            return key
        text = " ".join(label.split())[:MAX_LABEL]
        key = slug if slug and re.fullmatch(r"[a-z0-9][a-z0-9-]*", slug) else slugify(text)
        key = key[:80] or DEFAULT_TOPIC[0]
        self.topics.setdefault(key, text)
        return key

    def question_id(self, *candidates: str | None) -> str:
        """A unique question identifier: the first candidate that slugifies, deduplicated."""
        base = next((s for s in (slugify(c or "", max_length=70) for c in candidates) if s), "")
        base = base or f"question-{len(self.questions) + 1:02d}"
        qid, number = base, 2
        while qid in self._ids:
            qid, number = f"{base}-{number}", number + 1
        self._ids.add(qid)
        return qid

    def skip(self, name: str, kind: str, reason: str) -> None:
        self.skipped.append(Skipped(name or "(sans nom)", kind, reason))

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def _base(self, *, name, kind, qid, topic, stem, explanation, source_type) -> dict | None:
        if not stem or not stem.strip():
            self.skip(name, source_type, "énoncé vide")
            return None
        if len(stem) > MAX_TEXT:
            self.skip(
                name, source_type, f"énoncé trop long ({len(stem)} caractères, au plus {MAX_TEXT})"
            )
            return None
        if not explanation or not explanation.strip() or len(explanation) > MAX_TEXT:
            if explanation and len(explanation) > MAX_TEXT:
                self.warn(f"question « {name} » : feedback général trop long, non repris")
            explanation = PLACEHOLDER_EXPLANATION
            self._no_explanation.append(qid)
        if topic == DEFAULT_TOPIC[0]:
            self._default_topic.append(qid)
        return {
            "id": qid,
            "type": kind,
            "topic": topic,
            "difficulty": DEFAULT_DIFFICULTY,
            "competences": None,
            "stem": stem,
            "explanation": explanation,
            "references": [],
            "valid_from": None,
            "valid_until": None,
        }

    def add_choice(
        self,
        *,
        name: str,
        qid: str,
        topic: str,
        stem: str,
        explanation: str,
        texts: list[str],
        key: ChoiceKey,
        option_ids: list[str] | None = None,
        source_type: str = "choix",
    ) -> None:
        if not MAX_OPTIONS >= len(texts) >= 2:
            self.skip(name, source_type, f"{len(texts)} réponses : la banque en veut de 2 à 8")
            return
        if any(not t.strip() for t in texts):
            self.skip(name, source_type, "une réponse est vide")
            return
        if any(len(t) > MAX_TEXT for t in texts):
            self.skip(name, source_type, f"une réponse dépasse {MAX_TEXT} caractères")
            return
        question = self._base(
            name=name,
            kind=key.type,
            qid=qid,
            topic=topic,
            stem=stem,
            explanation=explanation,
            source_type=source_type,
        )
        if question is None:
            return
        ids = option_ids if option_ids and _usable_option_ids(option_ids) else None
        ids = ids or [_letters(index) for index in range(len(texts))]
        question["options"] = [
            {"id": oid, "text": text, "correct": correct}
            for oid, text, correct in zip(ids, texts, key.correct, strict=True)
        ]
        for note in key.notes:
            self.warn(f"question « {name} » : {note}")
        if key.partial_credit:
            self.partial_credit = True
        self.questions.append(question)

    def add_true_false(
        self,
        *,
        name: str,
        qid: str,
        topic: str,
        stem: str,
        explanation: str,
        answer: bool,
        source_type: str = "truefalse",
    ) -> None:
        question = self._base(
            name=name,
            kind="true_false",
            qid=qid,
            topic=topic,
            stem=stem,
            explanation=explanation,
            source_type=source_type,
        )
        if question is not None:
            question["answer"] = answer
            self.questions.append(question)

    def add_numeric(
        self,
        *,
        name: str,
        qid: str,
        topic: str,
        stem: str,
        explanation: str,
        answer: Decimal,
        tolerance: Decimal,
        unit: str | None = None,
        source_type: str = "numerical",
    ) -> None:
        if not answer.is_finite() or not tolerance.is_finite():
            self.skip(name, source_type, "valeur numérique invalide")
            return
        if tolerance < 0:
            self.skip(name, source_type, f"tolérance négative ({number_text(tolerance)})")
            return
        question = self._base(
            name=name,
            kind="numeric",
            qid=qid,
            topic=topic,
            stem=stem,
            explanation=explanation,
            source_type=source_type,
        )
        if question is None:
            return
        question["answer"] = number_text(answer)
        question["tolerance"] = number_text(tolerance)
        if unit and len(unit) > 20:
            self.warn(
                f"question « {name} » : unité « {unit} » trop longue (20 caractères), non reprise"
            )
            unit = None
        question["unit"] = unit or None
        self.questions.append(question)

    def result(self, *, title: str | None = None) -> ImportResult:
        """The bank dict with its placeholders, and the report."""
        stem = posixpath.basename(self.filename.replace("\\", "/"))
        base = stem.split(".")[0] if stem else "banque"
        version = f"{self.today.year}.1"
        if not self.questions:
            self.warn("aucune question importable : la banque produite serait vide")
        bank = {
            "id": slugify(base) or "banque-importee",
            "title": (title or f"Banque importée de {stem or 'fichier'}")[:MAX_LABEL],
            "theme": PLACEHOLDER_THEME,
            "competences": [PLACEHOLDER_COMPETENCE],
            "version": version,
            "valid_from": self.today.isoformat(),
            "valid_until": None,
            "authors": [PLACEHOLDER_AUTHOR],
            "changelog": [
                {
                    "version": version,
                    "date": self.today.isoformat(),
                    "summary": f"Import de « {stem} » ({self.source}) : à relire.",
                }
            ],
            "topics": self.topics or dict([DEFAULT_TOPIC]),
            "partial_credit": self.partial_credit,
            "blueprint": None,
            "questions": self.questions,
        }
        warnings = [
            f"en-tête à compléter : thème « {PLACEHOLDER_THEME} », compétences "
            f"« {PLACEHOLDER_COMPETENCE} » et auteurs « {PLACEHOLDER_AUTHOR} » sont des "
            f"valeurs d'attente ; version {version} et validité à partir du "
            f"{self.today.isoformat()} à vérifier"
        ]
        ids = [q["id"] for q in self.questions]
        if ids:
            warnings.append(
                f"difficulté {DEFAULT_DIFFICULTY} attribuée par défaut à {len(ids)} question(s) "
                f"({self.source} ne la connaît pas) : à relire"
            )
            warnings.append(
                f"aucune référence juridique pour {len(ids)} question(s) : au moins une par "
                "question est attendue (règle de rédaction)"
            )
        if self._no_explanation:
            warnings.append(
                f"explication « {PLACEHOLDER_EXPLANATION} » à rédiger pour "
                f"{len(self._no_explanation)} question(s) faute d'explication (feedback "
                "général) dans le fichier : " + ", ".join(self._no_explanation)
            )
        if self._default_topic:
            warnings.append(
                f"sujet « {DEFAULT_TOPIC[0]} » attribué faute de catégorie à "
                f"{len(self._default_topic)} question(s) : " + ", ".join(self._default_topic)
            )
        if self.partial_credit:
            warnings.append(
                "partial_credit: true : le crédit partiel s'applique alors à toutes les "
                "questions à choix multiple de la banque"
            )
        return ImportResult(bank=bank, skipped=self.skipped, warnings=self.warnings + warnings)


def _letters(index: int) -> str:
    return "abcdefgh"[index] if index < 8 else f"o{index + 1}"


def _usable_option_ids(ids: list[str]) -> bool:
    return len(set(ids)) == len(ids) and all(re.fullmatch(r"[a-z0-9]{1,20}", i) for i in ids)


# ─── Foreign text (HTML, Moodle auto-format, plain) → Markdown ──────────────────────────

_SANITISE_TAGS = {
    "p", "div", "br", "strong", "b", "em", "i", "u", "s", "del", "code", "pre", "kbd", "samp",
    "tt", "ul", "ol", "li", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "a", "img",
    "sub", "sup", "span", "table", "thead", "tbody", "tfoot", "tr", "th", "td", "hr",
    "dl", "dt", "dd", "section", "article", "figure", "figcaption", "center",
}  # fmt: skip
_SANITISE_ATTRIBUTES = {"a": {"href"}, "img": {"src", "alt"}}
_URL_SCHEMES = {"http", "https", "mailto", "data"}
_BLOCKS = {
    "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote", "pre",
    "table", "hr", "dl", "dt", "dd", "section", "article", "figure", "figcaption", "center",
}  # fmt: skip
_VOID = {"br", "img", "hr", "wbr"}
_IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
_BREAK = "\x00"
_SPACE_RUN = re.compile(r"[ \t\r\n\f]+")  # ASCII only: French non-breaking spaces stay


ImageSource = Callable[[str], tuple[str, bytes] | None]
"""Finds the bytes of an image named by ``src`` (``@@PLUGINFILE@@/x.png``, a zip path)."""


@dataclass
class TextContext:
    """Where converted text goes (for warnings) and how its images are found."""

    where: str
    warnings: list[str]
    images: ImageSource | None = None
    embed_images: bool = True


def to_markdown(text: str, fmt: str, ctx: TextContext, *, inline: bool = False) -> str:
    """Text in a Moodle format (``html``, ``moodle``, ``plain``, ``markdown``) → Markdown."""
    fmt = fmt.lower()
    if fmt in ("markdown", "4"):
        return text
    if fmt in ("plain", "plain_text", "2"):
        text = escape(text).replace("\n", "<br>")
    elif fmt in ("moodle", "moodle_auto_format", "0"):
        text = text.replace("\r\n", "\n").replace("\n", "<br>")
    result = html_to_markdown(text, ctx, inline=inline)
    if len(result) > MAX_TEXT and ctx.embed_images and "](data:" in result:
        ctx.warnings.append(
            f"{ctx.where} : trop long avec ses images intégrées (au plus {MAX_TEXT} "
            "caractères) : images non reprises"
        )
        lighter = TextContext(ctx.where, ctx.warnings, ctx.images, embed_images=False)
        result = html_to_markdown(text, lighter, inline=inline)
    return result


def sanitise_html(html: str) -> str:
    return nh3.clean(
        html,
        tags=_SANITISE_TAGS,
        attributes=_SANITISE_ATTRIBUTES,
        url_schemes=_URL_SCHEMES,
        link_rel=None,
        strip_comments=True,
    )


def html_to_markdown(html: str, ctx: TextContext, *, inline: bool = False) -> str:
    """Sanitise ``html`` with nh3, then write it as simple CommonMark."""
    builder = _TreeBuilder()
    builder.feed(sanitise_html(html))
    builder.close()
    writer = _MarkdownWriter(ctx, inline=inline)
    blocks = writer.blocks(builder.root)
    if inline:
        return " ".join(" ".join(block.split("\n")) for block in blocks).strip()
    return "\n\n".join(blocks).strip("\n")


class _Node:
    __slots__ = ("attrs", "children", "tag")

    def __init__(self, tag: str, attrs: dict[str, str]):
        self.tag = tag
        self.attrs = attrs
        self.children: list[_Node | str] = []


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Node("root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = _Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in _VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].children.append(_Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag):
        for index in range(len(self.stack) - 1, 0, -1):
            if self.stack[index].tag == tag:
                del self.stack[index:]
                return

    def handle_data(self, data):
        self.stack[-1].children.append(data)


_LINE_START = re.compile(r"^(?:#{1,6}(?=\s|$)|[-+*](?=\s|$)|>|=+\s*$|-+\s*$)")
_ORDERED_START = re.compile(r"^(\d{1,9})([.)])(?=\s|$)")


def escape_markdown(text: str) -> str:
    """Literal text inside Markdown: emphasis, code, links and autolinks stay literal."""
    # A backslash is literal unless it precedes ASCII punctuation or ends a line.
    text = re.sub(r"\\(?=[!-/:-@\[-`{-~]|\n|$)", r"\\\\", text)
    text = re.sub(r"([`*\[\]])", r"\\\1", text)
    text = re.sub(r"(?<![^\W_])_|_(?![^\W_])", r"\\_", text)
    text = re.sub(r"<(?=[A-Za-z/!?])", r"\\<", text)
    return re.sub(r"&(?=#?\w+;)", r"\\&", text)


def _escape_line_start(line: str) -> str:
    match = _ORDERED_START.match(line)
    if match:
        return f"{match.group(1)}\\{line[len(match.group(1)) :]}"
    if _LINE_START.match(line):
        return "\\" + line
    return line


class _MarkdownWriter:
    def __init__(self, ctx: TextContext, *, inline: bool = False) -> None:
        self.ctx = ctx
        self.inline_mode = inline

    # Blocks ─────────────────────────────────────────────────────────────────────────
    def blocks(self, node: _Node) -> list[str]:
        blocks: list[str] = []
        pending: list[str] = []

        def flush() -> None:
            text = self.finish_inline("".join(pending))
            pending.clear()
            if text:
                blocks.append(text)

        for child in node.children:
            if isinstance(child, _Node) and child.tag in _BLOCKS:
                flush()
                blocks.extend(self.block(child))
            else:
                pending.append(self.inline(child))
        flush()
        return blocks

    def block(self, node: _Node) -> list[str]:
        tag = node.tag
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            text = " ".join(" ".join(self.blocks(node)).split("\n"))
            return [f"**{text}**"] if text else []
        if tag in ("ul", "ol"):
            return self.listing(node)
        if tag == "blockquote":
            inner = "\n\n".join(self.blocks(node))
            return (
                ["\n".join(f"> {line}" if line else ">" for line in inner.split("\n"))]
                if (inner)
                else []
            )
        if tag == "pre":
            code = _raw_text(node).strip("\n")
            fence = "`" * max(3, _longest_run(code, "`") + 1)
            return [f"{fence}\n{code}\n{fence}"] if code.strip() else []
        if tag == "table":
            return self.table(node)
        if tag == "hr":
            return []
        return self.blocks(node)

    def listing(self, node: _Node) -> list[str]:
        lines: list[str] = []
        number = 1
        for child in node.children:
            if not isinstance(child, _Node):
                continue
            marker = f"{number}. " if node.tag == "ol" else "- "
            number += 1
            inner = "\n".join(self.blocks(child)) if child.tag == "li" else self.inline(child)
            inner = inner.strip()
            if not inner:
                continue
            pad = " " * len(marker)
            first, *rest = inner.split("\n")
            lines.append(marker + first)
            lines.extend(pad + line if line else "" for line in rest)
        return ["\n".join(lines)] if lines else []

    def table(self, node: _Node) -> list[str]:
        rows: list[list[str]] = []
        for row in _descendants(node, "tr"):
            cells = [
                " ".join(" ".join(self.blocks(cell)).split("\n")).replace("|", "\\|")
                for cell in row.children
                if isinstance(cell, _Node) and cell.tag in ("td", "th")
            ]
            if cells:
                rows.append(cells)
        if not rows:
            return []
        width = max(len(row) for row in rows)
        rows = [row + [""] * (width - len(row)) for row in rows]
        lines = ["| " + " | ".join(rows[0]) + " |", "|" + " --- |" * width]
        lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
        return ["\n".join(lines)]

    # Inline ─────────────────────────────────────────────────────────────────────────
    def inline(self, node: _Node | str) -> str:
        if isinstance(node, str):
            return escape_markdown(
                _SPACE_RUN.sub(lambda m: "\n" if "\n" in m.group() else " ", node)
            )
        tag = node.tag
        if tag == "br":
            return _BREAK
        if tag == "img":
            return self.image(node)
        if tag in _BLOCKS:  # a block inside inline content (option text): flattened
            return " " + " ".join(self.blocks(node)) + " "
        inner = "".join(self.inline(child) for child in node.children)
        if tag in ("strong", "b"):
            return _wrap(inner, "**")
        if tag in ("em", "i"):
            return _wrap(inner, "*")
        if tag in ("code", "kbd", "samp", "tt"):
            code = _SPACE_RUN.sub(" ", _raw_text(node))
            if not code.strip():
                return code
            ticks = "`" * (_longest_run(code, "`") + 1)
            pad = " " if code.startswith("`") or code.endswith("`") else ""
            return f"{ticks}{pad}{code}{pad}{ticks}"
        if tag == "a":
            href = node.attrs.get("href", "").strip()
            if not re.match(r"(?i)(https?|mailto):", href):
                return inner
            text = inner.strip() or escape_markdown(href)
            return f"[{text}]({_link_target(href)})"
        return inner

    def image(self, node: _Node) -> str:
        src = node.attrs.get("src", "").strip()
        alt = escape_markdown(" ".join(node.attrs.get("alt", "").split()))
        if re.match(r"(?i)https?:", src):
            return f"![{alt}]({_link_target(src)})"
        uri = self.embedded(src) if self.ctx.embed_images else None
        if uri:
            return f"![{alt}]({uri})"
        return f"(image non reprise : {alt})" if alt else "(image non reprise)"

    def embedded(self, src: str) -> str | None:
        """A ``data:`` URI for a small image, or None with a warning saying why."""
        where = self.ctx.where
        if src.lower().startswith("data:"):
            match = re.match(r"(?is)data:([\w.+/-]+);base64,(.*)", src)
            if not match or match.group(1).lower() not in _IMAGE_TYPES:
                self.ctx.warnings.append(f"{where} : image intégrée d'un format non pris en charge")
                return None
            mime, payload = match.group(1).lower(), match.group(2)
            try:
                content = base64.b64decode(payload, validate=False)
            except (binascii.Error, ValueError):
                self.ctx.warnings.append(f"{where} : image intégrée illisible, non reprise")
                return None
            name = "intégrée"
        else:
            found = self.ctx.images(src) if self.ctx.images else None
            name = unquote(posixpath.basename(src.split("?")[0])) or src
            if found is None:
                self.ctx.warnings.append(
                    f"{where} : image « {name} » absente du fichier importé, non reprise"
                )
                return None
            name, content = found
            mime = mimetypes.guess_type(name)[0] or ""
            if mime not in _IMAGE_TYPES:
                self.ctx.warnings.append(
                    f"{where} : image « {name} » d'un format non pris en charge ({mime or '?'}), "
                    "non reprise"
                )
                return None
        if len(content) >= MAX_IMAGE_BYTES:
            self.ctx.warnings.append(
                f"{where} : image « {name} » trop volumineuse ({len(content) // 1000} ko, moins "
                f"de {MAX_IMAGE_BYTES // 1000} ko admis), non reprise"
            )
            return None
        return f"data:{mime};base64,{base64.b64encode(content).decode('ascii')}"

    def finish_inline(self, text: str) -> str:
        """Whitespace and line breaks of one paragraph; escapes what would start a block."""
        if self.inline_mode:
            text = text.replace(_BREAK, " ")
        text = re.sub(rf"(?:[ \n]*{_BREAK}){{2,}}[ \n]*", "\n\n", text)
        text = re.sub(rf"[ \n]*{_BREAK}[ \n]*", "\\\\\n", text)
        paragraphs = []
        for paragraph in text.split("\n\n"):
            lines = [re.sub(r" {2,}", " ", line).strip() for line in paragraph.split("\n")]
            lines = [line for line in lines if line]
            while lines and lines[-1] == "\\":
                lines.pop()
            if lines and lines[-1].endswith("\\") and not lines[-1].endswith("\\\\"):
                lines[-1] = lines[-1][:-1].rstrip()  # a break at the end breaks nothing
            if lines:
                paragraphs.append("\n".join(_escape_line_start(line) for line in lines))
        return "\n\n".join(paragraphs)


def _wrap(inner: str, mark: str) -> str:
    core = inner.strip(" \n")
    if not core or _BREAK in core:
        return inner
    lead = inner[: len(inner) - len(inner.lstrip(" \n"))]
    tail = inner[len(inner.rstrip(" \n")) :]
    return f"{lead}{mark}{core}{mark}{tail}"


def _raw_text(node: _Node) -> str:
    return "".join(c if isinstance(c, str) else _raw_text(c) for c in node.children)


def _descendants(node: _Node, tag: str) -> Iterable[_Node]:
    for child in node.children:
        if isinstance(child, _Node):
            if child.tag == tag:
                yield child
            elif child.tag != "table":
                yield from _descendants(child, tag)


def _longest_run(text: str, char: str) -> int:
    runs = re.findall(f"{re.escape(char)}+", text)
    return max((len(r) for r in runs), default=0)


def _link_target(url: str) -> str:
    return quote(url, safe="/:?#[]@!$&'*+,;=%~.-_")
