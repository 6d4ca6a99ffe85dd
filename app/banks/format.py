"""The question bank file format: YAML → a validated, immutable ``BankDocument``.

Pure: no DB, no web. Every problem of a file is reported at once, as
``fichier:ligne: message`` with the line of the offending key. The format is documented
in ``question_banks/README.md``.
"""

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    ValidationError,
    field_validator,
)
from pydantic_core import PydanticCustomError

from app.decimals import plain_decimal
from app.yamlmarks import MarkedData, load_marked

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
OPTION_ID_PATTERN = r"^[a-z0-9]+$"
VERSION_PATTERN = r"^\d{4}\.\d+$"

Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN, max_length=80)]
OptionId = Annotated[str, StringConstraints(pattern=OPTION_ID_PATTERN, max_length=20)]
CalendarVersion = Annotated[str, StringConstraints(pattern=VERSION_PATTERN)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=20_000)]
Label = Annotated[str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)]
URL_PATTERN = r"^https://\S+$"
Url = Annotated[str, StringConstraints(pattern=URL_PATTERN, max_length=2000)]
ExactNumber = Annotated[Decimal, Field(allow_inf_nan=False)]

QUESTION_TYPES = ("single_choice", "multiple_choice", "true_false", "numeric")
CHOICE_TYPES = ("single_choice", "multiple_choice")


def version_key(version: str) -> tuple[int, ...]:
    """Sort key of a calendar version: 2026.10 comes after 2026.9."""
    return tuple(int(part) for part in version.split("."))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


class Reference(_Model):
    label: Label
    url: Url | None = None


class Option(_Model):
    id: OptionId
    text: Text
    correct: StrictBool = False


class _QuestionBase(_Model):
    id: Slug
    topic: Slug
    difficulty: Annotated[int, Field(ge=1, le=3)]
    competences: tuple[str, ...] | None = None
    stem: Text
    explanation: Text
    references: tuple[Reference, ...] = ()
    valid_from: date | None = None
    valid_until: date | None = None


class ChoiceQuestion(_QuestionBase):
    type: Literal["single_choice", "multiple_choice"]
    options: Annotated[tuple[Option, ...], Field(min_length=2, max_length=8)]

    @property
    def correct_option_ids(self) -> tuple[str, ...]:
        return tuple(option.id for option in self.options if option.correct)


class TrueFalseQuestion(_QuestionBase):
    type: Literal["true_false"]
    answer: StrictBool


class NumericQuestion(_QuestionBase):
    type: Literal["numeric"]
    answer: ExactNumber
    tolerance: Annotated[ExactNumber, Field(ge=0)]
    unit: Annotated[str, StringConstraints(max_length=20)] | None = None

    @field_validator("answer", "tolerance")
    @classmethod
    def _canonical(cls, value: Decimal) -> Decimal:
        try:
            return plain_decimal(value)
        except ArithmeticError:  # 1e999999999: beyond what decimal arithmetic can write out
            raise PydanticCustomError("decimal_overflow", "nombre hors limites") from None


Question = Annotated[
    ChoiceQuestion | TrueFalseQuestion | NumericQuestion, Field(discriminator="type")
]


class ChangelogEntry(_Model):
    version: CalendarVersion
    date: date
    summary: Text


class Blueprint(_Model):
    """The questionnaire drawn from the bank: how many items, from which topics, how long."""

    title: Label
    item_count: Annotated[int, Field(ge=1, le=500)]
    duration_minutes: Annotated[int, Field(ge=1, le=600)]
    shuffle_questions: StrictBool = True
    shuffle_options: StrictBool = True
    review: Literal["score", "topics", "correction"] = "correction"
    review_from: Literal["submission", "session_close"] = "session_close"
    quotas: Annotated[dict[Slug, Annotated[int, Field(ge=1)]], Field(min_length=1)]


class BankDocument(_Model):
    id: Slug
    title: Label
    theme: Slug
    competences: Annotated[tuple[str, ...], Field(min_length=1)]
    version: CalendarVersion
    valid_from: date
    valid_until: date | None = None
    authors: Annotated[tuple[Label, ...], Field(min_length=1)]
    changelog: Annotated[tuple[ChangelogEntry, ...], Field(min_length=1)]
    topics: Annotated[dict[Slug, Label], Field(min_length=1)]
    # Multiple choice: partial credit (right minus wrong ticks, floored at 0) or all-or-nothing.
    partial_credit: StrictBool = False
    blueprint: Blueprint | None = None
    questions: Annotated[tuple[Question, ...], Field(min_length=1)]

    def question(self, question_id: str) -> "ChoiceQuestion | TrueFalseQuestion | NumericQuestion":
        return next(q for q in self.questions if q.id == question_id)

    def canonical_json(self) -> str:
        """The content as canonical JSON: sorted keys, no spaces, UTF-8 text."""
        return canonical_json(self.model_dump(mode="json"))

    def content_sha256(self) -> str:
        """SHA-256 of the canonical content: the identity of a bank version's content."""
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()


def canonical_json(data: object) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class ThemeCatalog:
    """What a bank may refer to: the referential's competences and questionnaires."""

    competences: frozenset[str]
    questionnaires: Mapping[str, tuple[str, ...]]

    @classmethod
    def from_referential(cls, referential) -> "ThemeCatalog":
        return cls(
            competences=frozenset(referential.competences),
            questionnaires={q.id: tuple(q.competences) for q in referential.questionnaires},
        )


@dataclass(frozen=True, order=True)
class BankIssue:
    """One problem of a bank file, printed as ``fichier:ligne: message``."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class BankFileError(Exception):
    """A bank file that cannot be used; ``issues`` lists every problem found."""

    def __init__(self, issues: list[BankIssue]) -> None:
        self.issues = sorted(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


def parse_bank_file(path: Path, *, catalog: ThemeCatalog, max_bytes: int) -> BankDocument:
    """Read and validate one bank file; raises BankFileError listing every problem."""
    name = str(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise BankFileError([BankIssue(name, 1, _too_large(size, max_bytes))])
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as error:
        raise BankFileError(
            [BankIssue(name, 1, f"lecture impossible : {error.strerror}")]
        ) from None
    return parse_bank_bytes(data, filename=name, catalog=catalog, max_bytes=max_bytes)


def parse_bank_bytes(
    data: bytes, *, filename: str, catalog: ThemeCatalog, max_bytes: int
) -> BankDocument:
    """Validate the bytes of a bank file (an upload, a file read by the caller)."""
    if len(data) > max_bytes:
        raise BankFileError([BankIssue(filename, 1, _too_large(len(data), max_bytes))])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        byte = data[error.start]
        raise BankFileError(
            [
                BankIssue(
                    filename,
                    line,
                    f"le fichier n'est pas encodé en UTF-8 (octet 0x{byte:02X} invalide) : "
                    "enregistrez-le en UTF-8",
                )
            ]
        ) from None
    if not text.strip():
        raise BankFileError([BankIssue(filename, 1, "fichier vide : aucune banque à lire")])
    return validate_marked(load_marked(text), filename=filename, catalog=catalog)


def validate_marked(marked: MarkedData, *, filename: str, catalog: ThemeCatalog) -> BankDocument:
    """Validate parsed bank data whose lines are known; BankFileError lists every problem."""
    issues = [BankIssue(filename, line, message) for line, message in marked.problems]
    if marked.data is None and issues:  # otherwise a null document: refused just below
        raise BankFileError(issues)
    if not isinstance(marked.data, dict):
        issues.append(
            BankIssue(filename, 1, "le document doit être un dictionnaire de clés (id, title…)")
        )
        raise BankFileError(issues)
    document = None
    try:
        document = BankDocument.model_validate(marked.data)
    except ValidationError as error:
        issues.extend(
            BankIssue(filename, marked.line_of(path), f"{_where(path, marked.data)}{message}")
            for path, message in _without_consequences(list(_pydantic_problems(error)))
        )
    issues.extend(
        BankIssue(filename, marked.line_of(path), f"{_where(path, marked.data)}{message}")
        for path, message in _semantic_problems(marked.data, catalog, marked)
    )
    if issues:
        raise BankFileError(issues)
    assert document is not None
    return resolve_defaults(document)


def resolve_defaults(document: BankDocument) -> BankDocument:
    """Fill each question's omitted competences and validity with the bank's."""
    questions = tuple(
        question.model_copy(
            update={
                "competences": question.competences or document.competences,
                "valid_from": question.valid_from or document.valid_from,
                "valid_until": question.valid_until or document.valid_until,
            }
        )
        for question in document.questions
    )
    return document.model_copy(update={"questions": questions})


def _too_large(size: int, max_bytes: int) -> str:
    return (
        f"fichier trop volumineux : {size} octets, maximum {max_bytes} octets "
        "(réglable par CCPQ_BANK_MAX_BYTES)"
    )


def _where(path: tuple, data: dict) -> str:
    """A readable location: ``question « fisc-01 » › options[2] › correct : ``."""
    if not path:
        return ""
    parts: list[str] = []
    rest = list(path)
    if len(rest) >= 2 and rest[0] == "questions" and isinstance(rest[1], int):
        question = _get(data, ("questions", rest[1]))
        qid = question.get("id") if isinstance(question, dict) else None
        parts.append(f"question « {qid} »" if isinstance(qid, str) else f"question n°{rest[1] + 1}")
        rest = rest[2:]
    for item in rest:
        if isinstance(item, int) and parts:
            parts[-1] += f"[{item + 1}]"
        else:
            parts.append(str(item))
    return " › ".join(parts) + " : "


def _get(data, path: tuple):
    for item in path:
        try:
            data = data[item]
        except (KeyError, IndexError, TypeError):
            return None
    return data


_PATTERN_MESSAGES = {
    SLUG_PATTERN: "identifiant invalide « {input} » : minuscules, chiffres et tirets seulement",
    OPTION_ID_PATTERN: (
        "identifiant d'option invalide « {input} » : minuscules et chiffres seulement"
    ),
    VERSION_PATTERN: "version invalide « {input} » : attendu AAAA.N, par exemple 2026.1",
    URL_PATTERN: "adresse invalide « {input} » : une URL https:// complète est attendue",
}


def _pydantic_problems(error: ValidationError) -> Iterator[tuple[tuple, str]]:
    for item in error.errors(include_url=False):
        path = _strip_union_tags(item["loc"])
        kind = item["type"]
        ctx = item.get("ctx") or {}
        value = item.get("input")
        if kind == "extra_forbidden":
            yield path, f"clé inconnue « {path[-1]} »"
        elif kind == "missing":
            yield path[:-1], f"clé obligatoire manquante « {path[-1]} »"
        elif kind == "union_tag_invalid":
            expected = ", ".join(QUESTION_TYPES)
            yield (
                (*path, "type"),
                f"type de question inconnu « {ctx.get('tag')} » (attendu : {expected})",
            )
        elif kind == "union_tag_not_found":
            yield path, "clé obligatoire manquante « type »"
        elif kind == "string_pattern_mismatch":
            template = _PATTERN_MESSAGES.get(ctx.get("pattern"), "valeur invalide « {input} »")
            yield path, template.format(input=value)
        elif kind in ("string_too_short", "too_short"):
            minimum = ctx.get("min_length", 1)
            yield (
                path,
                ("ne peut pas être vide" if minimum == 1 else f"au moins {minimum} éléments"),
            )
        elif kind in ("string_too_long", "too_long"):
            yield path, f"trop long : au plus {ctx.get('max_length')} (caractères ou éléments)"
        elif kind in ("bool_type", "bool_parsing"):
            yield path, f"doit valoir true ou false (trouvé « {value} »)"
        elif kind in ("int_type", "int_parsing", "int_from_float"):
            yield path, f"doit être un nombre entier (trouvé « {value} »)"
        elif kind.startswith("decimal") or kind in ("finite_number",):
            yield path, f"doit être un nombre (trouvé « {value} »)"
        elif kind.startswith("date"):
            yield path, f"doit être une date AAAA-MM-JJ (trouvé « {value} »)"
        elif kind == "greater_than_equal":
            yield path, f"doit être supérieur ou égal à {ctx.get('ge')} (trouvé « {value} »)"
        elif kind == "less_than_equal":
            yield path, f"doit être inférieur ou égal à {ctx.get('le')} (trouvé « {value} »)"
        elif kind == "string_type":
            yield path, "doit être un texte"
        elif kind in ("tuple_type", "list_type"):
            yield path, "doit être une liste"
        elif kind in ("dict_type", "model_type", "model_attributes_type"):
            yield path, "doit être un dictionnaire de clés"
        elif kind == "literal_error":
            expected = str(ctx.get("expected", "")).replace(" or ", " ou ")
            yield path, f"valeur invalide « {value} » (attendu : {expected})"
        else:
            yield path, item["msg"]


def _without_consequences(problems: list[tuple[tuple, str]]) -> list[tuple[tuple, str]]:
    """Drop "ne peut pas être vide" on a list whose items were all refused for a reason shown."""
    return [
        (path, message)
        for path, message in problems
        if not (
            message == "ne peut pas être vide"
            and any(len(other) > len(path) and other[: len(path)] == path for other, _ in problems)
        )
    ]


def _strip_union_tags(loc: tuple) -> tuple:
    """Pydantic puts the union tag in the location (questions.3.numeric.answer); drop it."""
    path = list(loc)
    if len(path) >= 3 and path[0] == "questions" and path[2] in QUESTION_TYPES:
        del path[2]
    return tuple(path)


def _semantic_problems(
    data: dict, catalog: ThemeCatalog, marked: MarkedData
) -> Iterator[tuple[tuple, str]]:
    """Rules across fields; each check looks only at parts of the right shape."""
    theme = data.get("theme")
    theme_codes: tuple[str, ...] | None = None
    if isinstance(theme, str):
        theme_codes = catalog.questionnaires.get(theme)
        if theme_codes is None:
            known = ", ".join(sorted(catalog.questionnaires))
            yield ("theme",), f"thème inconnu « {theme} » : questionnaires du référentiel : {known}"

    bank_codes = data.get("competences")
    bank_codes = bank_codes if isinstance(bank_codes, list) else []
    for index, code in enumerate(bank_codes):
        if not isinstance(code, str):
            continue
        if code not in catalog.competences:
            yield ("competences", index), f"compétence « {code} » absente du référentiel"
        elif theme_codes is not None and code not in theme_codes:
            yield (
                ("competences", index),
                f"la compétence {code} n'est pas évaluée par le questionnaire « {theme} » "
                f"(il évalue : {', '.join(theme_codes)})",
            )

    yield from _date_order(data, ())

    version = data.get("version")
    changelog = data.get("changelog")
    if isinstance(version, str) and isinstance(changelog, list) and changelog:
        first = changelog[0].get("version") if isinstance(changelog[0], dict) else None
        if isinstance(first, str) and first != version:
            yield (
                ("changelog", 0, "version"),
                "la première entrée du journal des modifications (la plus récente) doit porter "
                f"la version {version}, pas {first}",
            )

    topics = data.get("topics")
    topics = topics if isinstance(topics, dict) else None
    questions = data.get("questions")
    if not isinstance(questions, list):
        return
    yield from _blueprint_problems(data.get("blueprint"), topics, questions)
    seen: dict[str, int] = {}
    for index, question in enumerate(questions):
        if not isinstance(question, dict):
            continue
        path = ("questions", index)
        qid = question.get("id")
        if isinstance(qid, str):
            if qid in seen:
                first = marked.line_of(("questions", seen[qid], "id"))
                yield (
                    (*path, "id"),
                    f"identifiant de question « {qid} » en double (déjà utilisé ligne {first})",
                )
            else:
                seen[qid] = index
        topic = question.get("topic")
        if isinstance(topic, str) and topics is not None and topic not in topics:
            yield (*path, "topic"), f"sujet « {topic} » non déclaré dans « topics »"
        codes = question.get("competences")
        if isinstance(codes, list):
            for position, code in enumerate(codes):
                if not isinstance(code, str):
                    continue
                if code not in catalog.competences:
                    yield (
                        (*path, "competences", position),
                        f"compétence « {code} » absente du référentiel",
                    )
                elif bank_codes and code not in bank_codes:
                    yield (
                        (*path, "competences", position),
                        f"compétence {code} non évaluée par la banque (elle évalue : "
                        f"{', '.join(str(c) for c in bank_codes)})",
                    )
        yield from _date_order(question, path, default_from=data.get("valid_from"))
        if question.get("type") in CHOICE_TYPES:
            yield from _option_problems(question, path)


def _blueprint_problems(
    blueprint, topics: dict | None, questions: list
) -> Iterator[tuple[tuple, str]]:
    """Quotas name declared topics, add up to item_count, and each can be drawn."""
    if not isinstance(blueprint, dict) or not isinstance(blueprint.get("quotas"), dict):
        return
    quotas = blueprint["quotas"]
    available: dict[str, int] = {}
    for question in questions:
        if isinstance(question, dict) and isinstance(question.get("topic"), str):
            available[question["topic"]] = available.get(question["topic"], 0) + 1
    for topic, quota in quotas.items():
        path = ("blueprint", "quotas", topic)
        if topics is not None and topic not in topics:
            yield path, f"sujet « {topic} » non déclaré dans « topics »"
        elif isinstance(quota, int) and quota > available.get(topic, 0):
            yield (
                path,
                f"{quota} questions à tirer du sujet « {topic} », qui n'en compte que "
                f"{available.get(topic, 0)}",
            )
    count = blueprint.get("item_count")
    total = sum(q for q in quotas.values() if isinstance(q, int) and not isinstance(q, bool))
    if (
        isinstance(count, int)
        and all(isinstance(q, int) for q in quotas.values())
        and total != count
    ):
        yield (
            ("blueprint", "item_count"),
            f"item_count vaut {count} mais la somme des quotas vaut {total}",
        )


def _date_order(data: dict, path: tuple, default_from=None) -> Iterator[tuple[tuple, str]]:
    start = data.get("valid_from", default_from)
    end = data.get("valid_until")
    if isinstance(start, date) and isinstance(end, date) and end < start:
        yield (*path, "valid_until"), f"date {end} antérieure à valid_from ({start})"


def _option_problems(question: dict, path: tuple) -> Iterator[tuple[tuple, str]]:
    options = question.get("options")
    if not isinstance(options, list) or not all(isinstance(o, dict) for o in options):
        return
    seen: set[str] = set()
    for position, option in enumerate(options):
        option_id = option.get("id")
        if isinstance(option_id, str):
            if option_id in seen:
                yield (
                    (*path, "options", position, "id"),
                    f"identifiant d'option « {option_id} » en double",
                )
            seen.add(option_id)
    correct = [str(o.get("id")) for o in options if o.get("correct") is True]
    if not correct:
        yield (
            (*path, "options"),
            "aucune option correcte : marquez la bonne réponse avec « correct: true »",
        )
    elif question.get("type") == "single_choice" and len(correct) > 1:
        yield (
            (*path, "options"),
            f"choix unique avec {len(correct)} options correctes ({', '.join(correct)}) : "
            "une seule est permise (ou utilisez « multiple_choice »)",
        )
