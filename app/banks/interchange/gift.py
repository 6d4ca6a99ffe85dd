"""GIFT (Moodle's plain-text question format) ↔ the bank dict. Pure: no DB, no web.

The reading follows Moodle's own parser (``question/format/gift/format.php``): questions
are separated by blank lines, ``//`` lines are comments, ``$CATEGORY:`` switches the
category (the topic is the slug of its last segment, labelled by the segment), ``::name::``
names the question, ``[html]``/``[moodle]``/``[plain]``/``[markdown]`` give a text's format,
``\\: \\# \\= \\{ \\} \\~ \\\\ \\n`` are escapes, and the text between braces decides the type.
Two deliberate differences: text is trimmed *before* escapes are decoded (so an escaped
``\\n`` at the end of a Markdown stem survives a round trip), and a closing brace followed
only by punctuation (``}";``) is a stray mark reported in the warnings, not a missing-word
question.

Export writes every text as ``[markdown]`` with newlines escaped, one question per block,
``$CATEGORY: $course$/top/<bank title>/<topic label>`` before each run of a topic.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from app.banks.format import BankDocument, ChoiceQuestion, NumericQuestion, TrueFalseQuestion
from app.banks.interchange.common import (
    Draft,
    ExportResult,
    ImportResult,
    TextContext,
    as_document,
    category_path,
    category_segments,
    choice_from_fractions,
    decode_utf8,
    export_warnings,
    fraction_weights,
    number_text,
    parse_decimal,
    percent_text,
    strip_tags,
    to_markdown,
    unsupported_reason,
)

# Escaped characters become private-use placeholders while the structure is parsed.
_ESCAPES = {"\\": "\ue05c", ":": "\ue03a", "#": "\ue023", "=": "\ue03d", "{": "\ue07b",
            "}": "\ue07d", "~": "\ue07e", "n": "\ue00a"}  # fmt: skip
_RESTORE = str.maketrans({v: ("\n" if k == "n" else k) for k, v in _ESCAPES.items()})
_WEIGHT = re.compile(r"^%(-?[0-9]+(?:\.[0-9]*)?)%")
_LABEL_LENGTH = 60  # not-a-threshold: characters of an unnamed question shown in reports
_FORMATS = {"html": "html", "moodle": "moodle", "plain": "plain", "markdown": "markdown"}


def protect(text: str) -> str:
    """Replace GIFT escapes by placeholders (``\\:`` stays a colon, not a separator)."""
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text) and text[index + 1] in _ESCAPES:
            out.append(_ESCAPES[text[index + 1]])
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)


def restore(text: str) -> str:
    return text.translate(_RESTORE)


def unescape(text: str) -> str:
    """GIFT text with its escapes decoded: ``href\\="http\\://x"`` → ``href="http://x"``."""
    return restore(protect(text))


def escape(text: str) -> str:
    """Text written into GIFT: reserved characters escaped, newlines as ``\\n``."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\\", "\\\\")
    for char in "~=#{}:":
        text = text.replace(char, "\\" + char)
    return text.replace("\n", "\\n")


# ─── Import ─────────────────────────────────────────────────────────────────────────────


def import_gift(data: bytes, *, filename: str, today: date | None = None) -> ImportResult:
    """Read a GIFT file (UTF-8 only) into the bank dict, with skipped questions and warnings."""
    text = decode_utf8(data, filename)
    draft = Draft(filename=filename, source="GIFT", today=today or date.today())
    category: str | None = None
    for block in _blocks(text):
        body = "\n".join(" " if line.startswith("//") else line for line in block).strip()
        if not body:
            continue
        body = protect(body)
        if body.startswith("$CATEGORY:"):
            segments = category_segments(restore(body[len("$CATEGORY:") :]).strip())
            category = segments[-1] if segments else None
            continue
        _read_question(draft, body, category)
    return draft.result()


def _blocks(text: str) -> list[list[str]]:
    blocks: list[list[str]] = []
    current: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if line:
            current.append(line)
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def _split_format(raw: str, default: str) -> tuple[str, str]:
    """``[html]text`` → (``html``, ``text``); an unknown ``[x]`` is text (Moodle's rule)."""
    raw = raw.strip()
    match = re.match(r"\[(\w+)\]", raw)
    if match and match.group(1).lower() in _FORMATS:
        return _FORMATS[match.group(1).lower()], raw[match.end() :].strip()
    return default, raw


def _read_question(draft: Draft, body: str, category: str | None) -> None:
    name = None
    if body.startswith("::"):
        end = body.find("::", 2)
        if end != -1:
            name = " ".join(restore(body[2:end]).split())
            body = body[end + 2 :].strip()
    start, finish = body.find("{"), body.find("}")
    head = _split_format(body[: start if start != -1 else len(body)], "moodle")[1]
    plain = " ".join(strip_tags(restore(head)).split())
    short = plain[:_LABEL_LENGTH] + ("…" if len(plain) > _LABEL_LENGTH else "")
    label = name or short or "(sans nom)"
    if start == -1 and finish == -1:
        draft.skip(label, "description", unsupported_reason("description"))
        return
    if start == -1 or finish == -1 or finish < start:
        draft.skip(label, "inconnu", "syntaxe GIFT invalide : accolades { } non appariées")
        return
    answer = body[start + 1 : finish].strip()
    after = body[finish + 1 :]
    if after.strip():
        if re.search(r"\w", restore(after)):
            draft.skip(label, "missingword", unsupported_reason("missingword"))
            return
        draft.warn(
            f"question « {label} » : texte « {restore(after).strip()} » après l'accolade "
            "fermante ignoré"
        )
    general = ""
    separator = answer.rfind("####")
    if separator != -1:
        general = answer[separator + 4 :]
        answer = answer[:separator].strip()
    fmt, stem_raw = _split_format(body[:start], "moodle")
    kind = _kind(answer)
    if kind not in ("multichoice", "truefalse", "numerical"):
        draft.skip(label, kind, unsupported_reason(kind))
        return
    qid = draft.question_id(name, " ".join(plain.split()[:6]))
    ctx = TextContext(f"question « {label} »", draft.warnings)
    stem = to_markdown(restore(stem_raw), fmt, ctx)
    general_fmt, general_raw = _split_format(general, fmt)
    explanation = to_markdown(restore(general_raw), general_fmt, ctx) if general_raw else ""
    topic = draft.topic(category)
    common = {"name": label, "qid": qid, "topic": topic, "stem": stem, "explanation": explanation}
    if kind == "multichoice":
        _multichoice(draft, answer, fmt, ctx, common)
    elif kind == "truefalse":
        value, _, feedback = answer.partition("#")
        if feedback.strip(" #"):
            _feedback_dropped(draft, label)
        draft.add_true_false(answer=value.strip() in ("T", "TRUE"), **common)
    else:
        _numerical(draft, answer, common)


def _kind(answer: str) -> str:
    """Moodle's order of detection."""
    if answer == "":
        return "essay"
    if answer.startswith("#"):
        return "numerical"
    if "~" in answer:
        return "multichoice"
    if "=" in answer and "->" in answer:
        return "match"
    head = answer.split("#", 1)[0].strip()
    return "truefalse" if head in ("T", "TRUE", "F", "FALSE") else "shortanswer"


def _multichoice(draft: Draft, answer: str, fmt: str, ctx: TextContext, common: dict) -> None:
    parts = answer.replace("=", "~=").split("~")
    if parts and not parts[0].strip():
        parts.pop(0)
    texts: list[str] = []
    fractions: list[Decimal] = []
    single = False
    feedback = False
    for part in parts:
        part = part.strip()
        if part.startswith("="):
            weight, part, single = Decimal(100), part[1:], True
        elif match := _WEIGHT.match(part):
            weight, part = parse_decimal(match.group(1)) or Decimal(0), part[match.end() :]
        else:
            weight = Decimal(0)
        text, _, comment = part.partition("#")
        feedback = feedback or bool(comment.strip())
        option_fmt, option_raw = _split_format(text, fmt)
        texts.append(to_markdown(restore(option_raw), option_fmt, ctx, inline=True))
        fractions.append(weight)
    if feedback:
        _feedback_dropped(draft, common["name"])
    key = choice_from_fractions(fractions, single=single)
    if isinstance(key, str):
        draft.skip(common["name"], "multichoice", key)
        return
    draft.add_choice(texts=texts, key=key, source_type="multichoice", **common)


def _numerical(draft: Draft, answer: str, common: dict) -> None:
    label = common["name"]
    body = answer[1:]
    body, tilde, wrong = body.partition("~")
    if tilde and wrong.strip(" #"):
        _feedback_dropped(draft, label)
    candidates = [part.strip() for part in body.split("=")]
    if candidates and not candidates[0]:
        candidates.pop(0)
    values: list[tuple[Decimal, Decimal, Decimal]] = []
    for part in candidates:
        weight = Decimal(100)
        if match := _WEIGHT.match(part):
            weight, part = parse_decimal(match.group(1)) or Decimal(0), part[match.end() :]
        value, _, comment = part.partition("#")
        if comment.strip():
            _feedback_dropped(draft, label)
        value = restore(value).strip()
        parsed = _numeric_value(value)
        if parsed is None:
            draft.skip(label, "numerical", f"valeur numérique illisible « {value} »")
            return
        answer_value, tolerance = parsed
        values.append((weight, answer_value, tolerance))
    right = [v for v in values if v[0] >= Decimal("99.999")]
    if not right:
        draft.skip(label, "numerical", "aucune réponse numérique à 100 %")
        return
    if len(right) > 1 or len(values) > len(right):
        draft.warn(
            f"question « {label} » : seule la première réponse à 100 % est reprise "
            "(réponses multiples ou partiellement justes ignorées)"
        )
    draft.add_numeric(answer=right[0][1], tolerance=right[0][2], **common)


def _numeric_value(value: str) -> tuple[Decimal, Decimal] | None:
    """``3:2`` → (3, 2); ``1..5`` → (3, 2); ``4`` → (4, 0); None when unreadable."""
    if ".." in value[1:]:
        low, high = (parse_decimal(v) for v in value.split("..", 1))
        if low is None or high is None:
            return None
        low, high = min(low, high), max(low, high)
        return (low + high) / 2, (high - low) / 2
    if ":" in value[1:]:
        number, margin = (parse_decimal(v) for v in value.split(":", 1))
        return None if number is None or margin is None else (number, abs(margin))
    number = parse_decimal(value)
    return None if number is None else (number, Decimal(0))


def _feedback_dropped(draft: Draft, label: str) -> None:
    message = (
        f"question « {label} » : retours par réponse non repris "
        "(la banque n'a qu'une explication par question)"
    )
    if message not in draft.warnings:
        draft.warn(message)


# ─── Export ─────────────────────────────────────────────────────────────────────────────


def export_gift(bank: dict | BankDocument) -> ExportResult:
    """The bank as GIFT text (UTF-8); what GIFT cannot carry is listed in the warnings."""
    document = as_document(bank)
    title = " ".join(document.title.split())
    lines = [
        f"// Banque « {title} » ({document.id}), version {document.version} : export GIFT de ccpq.",
        "// Non exportés (GIFT ne les connaît pas) : difficulté, compétences, références, "
        "validité, unités.",
        "",
    ]
    current = None
    for question in document.questions:
        if question.topic != current:
            current = question.topic
            label = " ".join(document.topics[current].split())
            lines += [f"$CATEGORY: {category_path(title, label)}", ""]
        lines += [_gift_question(question, document), ""]
    return ExportResult("\n".join(lines).encode("utf-8"), export_warnings(document, "GIFT"))


def _gift_question(question, document: BankDocument) -> str:
    head = f"::{question.id}::[markdown]{escape(question.stem)}{{"
    tail = [f"####{escape(question.explanation)}", "}"]
    if isinstance(question, TrueFalseQuestion):
        return "\n".join([head, "TRUE" if question.answer else "FALSE", *tail])
    if isinstance(question, NumericQuestion):
        value = f"#{number_text(question.answer)}:{number_text(question.tolerance)}"
        return "\n".join([head, value, *tail])
    assert isinstance(question, ChoiceQuestion)
    answers = []
    if question.type == "single_choice":
        for option in question.options:
            answers.append(("=" if option.correct else "~") + _option_text(option.text))
    else:
        right = fraction_weights(len(question.correct_option_ids))
        wrong = -right if document.partial_credit else Decimal(-100)
        for option in question.options:
            weight = percent_text(right if option.correct else wrong)
            answers.append(f"~%{weight}%{_option_text(option.text)}")
    return "\n".join([head, *answers, *tail])


def _option_text(text: str) -> str:
    """An answer starting with ``[`` or ``%`` would be read as a format or a weight."""
    return ("[markdown]" if text[:1] in "[%" else "") + escape(text)


__all__ = ["escape", "export_gift", "import_gift", "unescape"]
