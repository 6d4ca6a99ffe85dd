"""Interchange formats for question banks: YAML, GIFT, Moodle XML, QTI. Pure: no DB, no web.

Every conversion goes through one intermediate, the dict shape of
``BankDocument.model_dump(mode="json")``. Importers return an ``ImportResult`` (the bank
dict, the questions they had to skip, the warnings about placeholders and approximations);
the dict is then validated with ``BankDocument.model_validate`` before any export.

    convert(data, filename="quiz.gift.txt", target_format="yaml")  # → bytes
    convert_report(...)                                             # → Conversion (+ report)

Source formats: ``yaml``, ``gift``, ``moodlexml``, ``qti21``, ``qti3`` (guessed from the
content and the extension when not given). Targets: ``yaml``, ``gift``, ``moodlexml``,
``qti3`` (a content package, zip).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from app.banks.format import BankDocument, ThemeCatalog
from app.banks.interchange.common import (
    MAX_INPUT_BYTES,
    ConversionError,
    ExportResult,
    ImportResult,
    Skipped,
    validate_bank,
)

SOURCE_FORMATS = ("yaml", "gift", "moodlexml", "qti21", "qti3")
TARGET_FORMATS = ("yaml", "gift", "moodlexml", "qti3")
EXTENSIONS = {"yaml": ".yaml", "gift": ".gift.txt", "moodlexml": ".xml", "qti3": ".zip"}


@dataclass
class Conversion:
    data: bytes
    bank: BankDocument
    source_format: str
    target_format: str
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def detect_format(data: bytes, filename: str) -> str:
    """The source format, from the content first, the extension when the content is text."""
    name = filename.lower()
    if data[:4] == b"PK\x03\x04":
        from app.banks.interchange.qti import package_version

        return package_version(data, filename)
    head = data[:8192].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        body = re.sub(rb"<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>", b"", head, flags=re.S)
        match = re.search(rb"<\s*([A-Za-z_][\w.:-]*)", body)
        root = match.group(1).split(b":")[-1] if match else b""
        if root == b"quiz":
            return "moodlexml"
        if root == b"assessmentItem":
            return "qti21"
        if root == b"qti-assessment-item":
            return "qti3"
        raise ConversionError(
            f"{filename}: XML non reconnu (élément racine « {root.decode(errors='replace')} ») : "
            "attendu Moodle XML (quiz) ou un item QTI"
        )
    if name.endswith((".yaml", ".yml")):
        return "yaml"
    if name.endswith((".gift", ".gift.txt")) or name.endswith(".txt"):
        return "gift"
    text = head.decode("utf-8", errors="replace")
    if re.search(r"(?m)^(id|questions)\s*:", text) and "{" not in text.split("questions:")[0]:
        return "yaml"
    if re.search(r"\{|::|\$CATEGORY:", text):
        return "gift"
    raise ConversionError(
        f"{filename}: format non reconnu ; précisez-le ({', '.join(SOURCE_FORMATS)})"
    )


def read_bank(
    data: bytes,
    *,
    filename: str,
    source_format: str | None = None,
    catalog: ThemeCatalog | None = None,
    max_yaml_bytes: int = 2 * 1024 * 1024,
    today: date | None = None,
) -> tuple[str, ImportResult]:
    """Import ``data`` (format given or guessed): (source format, result)."""
    if len(data) > MAX_INPUT_BYTES:
        raise ConversionError(
            f"{filename}: fichier trop volumineux ({len(data)} octets, au plus {MAX_INPUT_BYTES})"
        )
    if not data.strip():
        raise ConversionError(f"{filename}: fichier vide")
    source = source_format or detect_format(data, filename)
    if source not in SOURCE_FORMATS:
        raise ConversionError(
            f"format d'entrée inconnu « {source} » (attendu : {', '.join(SOURCE_FORMATS)})"
        )
    if source == "yaml":
        from app.banks.interchange.yamlio import import_yaml

        result = import_yaml(data, filename=filename, catalog=catalog, max_bytes=max_yaml_bytes)
    elif source == "gift":
        from app.banks.interchange.gift import import_gift

        result = import_gift(data, filename=filename, today=today)
    elif source == "moodlexml":
        from app.banks.interchange.moodlexml import import_moodlexml

        result = import_moodlexml(data, filename=filename, today=today)
    else:
        from app.banks.interchange.qti import import_qti

        result = import_qti(data, filename=filename, today=today, expected=source)
    return source, result


def write_bank(bank: dict | BankDocument, target_format: str) -> ExportResult:
    if target_format == "yaml":
        from app.banks.interchange.yamlio import export_yaml as export
    elif target_format == "gift":
        from app.banks.interchange.gift import export_gift as export
    elif target_format == "moodlexml":
        from app.banks.interchange.moodlexml import export_moodlexml as export
    elif target_format == "qti3":
        from app.banks.interchange.qti import export_qti3 as export
    else:
        raise ConversionError(
            f"format de sortie inconnu « {target_format} » (attendu : {', '.join(TARGET_FORMATS)})"
        )
    return export(bank)


def convert_report(
    input_bytes: bytes,
    *,
    filename: str,
    source_format: str | None = None,
    target_format: str,
    catalog: ThemeCatalog | None = None,
    max_yaml_bytes: int = 2 * 1024 * 1024,
    today: date | None = None,
) -> Conversion:
    """Import, validate as a bank, export; with every skipped question and warning."""
    if target_format not in TARGET_FORMATS:
        raise ConversionError(
            f"format de sortie inconnu « {target_format} » (attendu : {', '.join(TARGET_FORMATS)})"
        )
    source, result = read_bank(
        input_bytes,
        filename=filename,
        source_format=source_format,
        catalog=catalog,
        max_yaml_bytes=max_yaml_bytes,
        today=today,
    )
    if not result.bank.get("questions"):
        skipped = f" ({len(result.skipped)} ignorée(s))" if result.skipped else ""
        raise ConversionError(
            f"{filename}: aucune question convertible{skipped}", skipped=result.skipped
        )
    document = validate_bank(result.bank, filename=filename)
    exported = write_bank(document, target_format)
    return Conversion(
        data=exported.data,
        bank=document,
        source_format=source,
        target_format=target_format,
        skipped=list(result.skipped),
        warnings=[*result.warnings, *exported.warnings],
    )


def convert(
    input_bytes: bytes,
    *,
    filename: str,
    source_format: str | None = None,
    target_format: str,
    catalog: ThemeCatalog | None = None,
    today: date | None = None,
) -> bytes:
    """The converted bytes (see ``convert_report`` for the skipped questions and warnings)."""
    return convert_report(
        input_bytes,
        filename=filename,
        source_format=source_format,
        target_format=target_format,
        catalog=catalog,
        today=today,
    ).data


__all__ = [
    "EXTENSIONS",
    "SOURCE_FORMATS",
    "TARGET_FORMATS",
    "Conversion",
    "ConversionError",
    "ExportResult",
    "ImportResult",
    "Skipped",
    "convert",
    "convert_report",
    "detect_format",
    "read_bank",
    "write_bank",
]
