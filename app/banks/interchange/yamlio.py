"""The bank dict ↔ YAML text in the shape of ``question_banks/`` files. Pure: no DB, no web.

Export writes keys in the README's order, omits what is a default (``correct: false``,
empty ``references``, a question's competences or validity equal to the bank's…), quotes
every version, leaves dates unquoted, writes multi-line Markdown as ``|`` block scalars and
quotes a one-line text only when YAML would read it otherwise. Each scalar is checked by
reading it back, and the whole file too: ``parse_bank_bytes(export)`` has the same
``content_sha256()`` as the bank it came from (once its defaults are resolved).
"""

from __future__ import annotations

import re
from datetime import date

import yaml
from pydantic import ValidationError

from app.banks.format import (
    BankDocument,
    BankFileError,
    ThemeCatalog,
    parse_bank_bytes,
    resolve_defaults,
)
from app.banks.interchange.common import (
    ConversionError,
    ExportResult,
    ImportResult,
    as_document,
    decode_utf8,
    validate_bank,
)
from app.yamlmarks import load_marked

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

HEADER_ORDER = (
    "id", "title", "theme", "competences", "version", "valid_from", "valid_until", "authors",
    "changelog", "topics", "partial_credit", "blueprint", "questions",
)  # fmt: skip
QUESTION_ORDER = (
    "id", "type", "topic", "difficulty", "competences", "stem", "options", "answer",
    "tolerance", "unit", "explanation", "references", "valid_from", "valid_until",
)  # fmt: skip
ORDERS = {
    "changelog": ("version", "date", "summary"),
    "blueprint": (
        "title", "item_count", "duration_minutes", "shuffle_questions", "shuffle_options",
        "review", "review_from", "quotas",
    ),
    "questions": QUESTION_ORDER,
    "options": ("id", "text", "correct"),
    "references": ("label", "url"),
}  # fmt: skip
_DATES = {"valid_from", "valid_until", "date"}
_NUMBERS = {"answer", "tolerance"}
_QUOTED = {"version"}
_FLOW_LISTS = {"competences", "authors"}
_PLAIN_START = re.compile(r"""^[^\s\-?:,\[\]{}#&*!|>'"%@`]""")
_NOT_PRINTABLE = re.compile(
    "[^\x09\x0a\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|[\u2028\u2029\ufeff]"
)


# ─── Import ─────────────────────────────────────────────────────────────────────────────


def import_yaml(
    data: bytes,
    *,
    filename: str,
    catalog: ThemeCatalog | None = None,
    max_bytes: int = 2 * 1024 * 1024,
) -> ImportResult:
    """A bank file, validated (fully when a catalog is given), as the bank dict."""
    if catalog is not None:
        try:
            document = parse_bank_bytes(
                data, filename=filename, catalog=catalog, max_bytes=max_bytes
            )
        except BankFileError as error:
            raise ConversionError(
                f"{filename}: banque invalide :\n" + "\n".join(str(i) for i in error.issues)
            ) from None
    else:
        text = decode_utf8(data, filename)
        marked = load_marked(text)
        if marked.problems or not isinstance(marked.data, dict):
            problems = "; ".join(f"ligne {line} : {message}" for line, message in marked.problems)
            raise ConversionError(
                f"{filename}: banque YAML illisible : {problems or 'un dictionnaire est attendu'}"
            )
        document = resolve_defaults(validate_bank(marked.data, filename=filename))
    return ImportResult(bank=document.model_dump(mode="json"))


# ─── Export ─────────────────────────────────────────────────────────────────────────────


def export_yaml(bank: dict | BankDocument) -> ExportResult:
    return ExportResult(dump_bank(bank).encode("utf-8"))


def dump_bank(bank: dict | BankDocument) -> str:
    """The bank as YAML text, ready for ``ccpq banks validate``."""
    document = resolve_defaults(as_document(bank))
    data = _without_defaults(document.model_dump(mode="json"))
    lines = [
        "# Banque de questions ccpq : format documenté dans question_banks/README.md.",
    ]
    _mapping(lines, data, 0, HEADER_ORDER)
    text = "\n".join(lines) + "\n"
    _check(text, document)
    return text


def _without_defaults(data: dict) -> dict:
    for key in ("valid_until", "blueprint"):
        if data.get(key) is None:
            data.pop(key, None)
    if not data.get("partial_credit"):
        data.pop("partial_credit", None)
    for question in data["questions"]:
        for key in ("competences", "valid_from", "valid_until"):
            if question.get(key) == data.get(key) or question.get(key) is None:
                question.pop(key, None)
        if not question.get("references"):
            question.pop("references", None)
        for reference in question.get("references", []):
            if reference.get("url") is None:
                reference.pop("url", None)
        if question.get("unit") is None:
            question.pop("unit", None)
        for option in question.get("options", []):
            if not option.get("correct"):
                option.pop("correct", None)
    return data


def _check(text: str, document: BankDocument) -> None:
    marked = load_marked(text)
    try:
        again = resolve_defaults(BankDocument.model_validate(marked.data))
    except ValidationError:
        again = None
    if marked.problems or again is None or again.canonical_json() != document.canonical_json():
        raise ConversionError("export YAML incohérent : le texte produit ne relit pas la banque")


def _mapping(lines: list[str], data: dict, indent: int, order: tuple[str, ...]) -> None:
    keys = [k for k in order if k in data] + [k for k in data if k not in order]
    for key in keys:
        _entry(lines, key, data[key], indent, ORDERS.get(key, ()))


def _entry(lines: list[str], key: str, value, indent: int, order: tuple[str, ...]) -> None:
    pad = " " * indent
    name = _key(key)
    if isinstance(value, dict):
        if not value:
            lines.append(f"{pad}{name}: {{}}")
            return
        lines.append(f"{pad}{name}:")
        _mapping(lines, value, indent + 2, order)
    elif isinstance(value, list):
        if not value:
            lines.append(f"{pad}{name}: []")
        elif key in _FLOW_LISTS and all(_flow_item(v) for v in value):
            lines.append(f"{pad}{name}: [{', '.join(value)}]")
        else:
            lines.append(f"{pad}{name}:")
            for index, item in enumerate(value):
                if key == "questions" and index:
                    lines.append("")
                _item(lines, item, indent + 2, order)
    else:
        scalar = _scalar(value, key)
        if isinstance(scalar, str):
            lines.extend(_wrapped(f"{pad}{name}: ", scalar, str(value), pad + "  "))
        else:
            header, body = scalar
            lines.append(f"{pad}{name}: {header}")
            inner = " " * (indent + 2)
            lines.extend(f"{inner}{line}" if line else "" for line in body)


def _item(lines: list[str], item, indent: int, order: tuple[str, ...]) -> None:
    pad = " " * indent
    if isinstance(item, dict):
        start = len(lines)
        _mapping(lines, item, indent + 2, order)
        lines[start] = f"{pad}- {lines[start][indent + 2 :]}"
        return
    scalar = _scalar(item, "")
    if isinstance(scalar, str):
        lines.append(f"{pad}- {scalar}")
    else:
        header, body = scalar
        lines.append(f"{pad}- {header}")
        lines.extend(f"{pad}  {line}" if line else "" for line in body)


def _wrapped(prefix: str, scalar: str, text: str, pad: str, width: int = 96) -> list[str]:
    """A long double-quoted scalar folded over several lines (a line break reads as a space)."""
    if not scalar.startswith('"') or len(prefix) + len(scalar) <= width:
        return [prefix + scalar]
    lines, current = [], prefix
    for word in re.split(r"(?<=[^ ]) (?=[^ ])", scalar):
        if current.strip() and len(current) + 1 + len(word) > width and current != prefix:
            lines.append(current)
            current = pad + word
        else:
            current = f"{current} {word}" if current != prefix else current + word
    lines.append(current)
    snippet = "k: " + "\n  ".join(
        line[len(prefix) :] if index == 0 else line[len(pad) :] for index, line in enumerate(lines)
    )
    try:
        if yaml.load(snippet, Loader=_Loader) == {"k": text}:
            return lines
    except yaml.YAMLError:
        pass
    return [prefix + scalar]


def _key(key) -> str:
    text = str(key)
    return text if _plain(text) and re.fullmatch(r"[\w-]+", text) else _double_quoted(text)


def _flow_item(value) -> bool:
    return isinstance(value, str) and _plain(value) and not re.search(r"[,\[\]{}]", value)


def _scalar(value, key: str) -> str | tuple[str, list[str]]:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if value is None:
        return "null"
    text = str(value)
    if key in _DATES and _reads_as(text, date.fromisoformat(text)):
        return text
    if key in _NUMBERS and re.fullmatch(r"-?\d+(\.\d+)?", text):
        return text
    if key in _QUOTED:
        return _double_quoted(text)
    if "\n" in text:
        block = _block(text)
        if block is not None:
            return block
    elif _plain(text):
        return text
    return _double_quoted(text)


def _reads_as(text: str, expected) -> bool:
    try:
        return yaml.load(f"k: {text}", Loader=_Loader) == {"k": expected}
    except yaml.YAMLError:
        return False


def _plain(text: str) -> bool:
    if not text or text != text.strip() or _NOT_PRINTABLE.search(text) or "\t" in text:
        return False
    if not _PLAIN_START.match(text) or ": " in text or " #" in text or text.endswith(":"):
        return False
    return _reads_as(text, text)


def _block(text: str) -> tuple[str, list[str]] | None:
    """A ``|`` literal block (with chomping and indentation indicators), if it reads back."""
    if _NOT_PRINTABLE.search(text.replace("\t", " ")) or "\r" in text:
        return None
    if text.endswith("\n\n"):
        chomp, body = "+", text[:-1]
    elif text.endswith("\n"):
        chomp, body = "", text[:-1]
    else:
        chomp, body = "-", text
    lines = body.split("\n")
    first = next((line for line in lines if line.strip()), "")
    indicator = "2" if first.startswith((" ", "\t")) or not first else ""
    header = f"|{indicator}{chomp}"
    snippet = f"k: {header}\n" + "\n".join(f"  {line}" if line else "" for line in lines) + "\n"
    try:
        if yaml.load(snippet, Loader=_Loader) != {"k": text}:
            return None
    except yaml.YAMLError:
        return None
    return header, lines


def _double_quoted(text: str) -> str:
    out = []
    for char in text:
        code = ord(char)
        if char == "\\":
            out.append("\\\\")
        elif char == '"':
            out.append('\\"')
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif _NOT_PRINTABLE.match(char):
            out.append(f"\\x{code:02X}" if code < 0x100 else f"\\u{code:04X}" if code < 0x10000
                       else f"\\U{code:08X}")  # fmt: skip
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


dump_yaml = dump_bank
