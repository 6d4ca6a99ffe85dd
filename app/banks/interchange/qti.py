"""IMS QTI ↔ the bank dict. Pure: no DB, no web; XML is parsed only through defusedxml.

Import (QTI 2.1/2.2 and 3.0, one item file or a content package: a zip whose
``imsmanifest.xml`` lists the items as resources):

- ``choiceInteraction``: ``cardinality="single"`` → single choice, ``multiple`` → multiple
  choice, the key from ``correctResponse`` (else the positive ``mapping`` entries). When the
  item is scored by ``mapResponse`` and the mapping has negative values, the bank's partial
  credit is the nearest rule: ``partial_credit: true`` and a warning. A single choice with
  exactly two choices ``true``/``false`` (identifiers) or « Vrai »/« Faux » (texts) is a
  true/false question.
- ``textEntryInteraction`` with a ``float`` or ``integer`` response: numeric; the tolerance
  comes from the ``equal`` operator of the response processing (``toleranceMode``
  ``exact``/``absolute``/``relative``). A ``<span class="ccpq-unit">`` beside the
  interaction is the unit (what our export writes).
- every other interaction (``extendedTextInteraction``, ``matchInteraction``…), a string
  text entry, or several interactions in one item: reported as skipped.
- the explanation is the item's ``modalFeedback``; in a package, the sections of an
  ``assessmentTest`` give the topics. Images of the package become ``data:`` URIs when
  small. The zip is read defensively: no path may leave the package, and entries, sizes
  and their total are capped.

Export: a QTI 3.0 content package (IMS CP, resources ``imsqti_item_xmlv3p0``), one
``qti-assessment-item`` per question with explicit response processing (``qti-match`` for
choices, ``qti-map-response`` for partial credit, ``qti-equal`` with an absolute tolerance
for numbers), the explanation as ``qti-modal-feedback``, and a ``qti-assessment-test`` with
one section per topic.
"""

from __future__ import annotations

import io
import posixpath
import re
import xml.etree.ElementTree as ET
import zipfile
import zlib
from datetime import date
from decimal import ROUND_CEILING, Decimal
from functools import partial
from html import escape
from html.parser import HTMLParser
from urllib.parse import unquote

from markdown_it import MarkdownIt

from app.banks.format import BankDocument, ChoiceQuestion, NumericQuestion, TrueFalseQuestion
from app.banks.interchange.common import (
    ChoiceKey,
    ConversionError,
    Draft,
    ExportResult,
    ImportResult,
    TextContext,
    as_document,
    export_warnings,
    local_name,
    number_text,
    parse_decimal,
    parse_xml,
    sanitise_html,
    to_markdown,
    unsupported_reason,
)

QTI3_NS = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
QTI3_SCHEMA = "https://purl.imsglobal.org/spec/qti/v3p0/schema/xsd/imsqti_asiv3p0_v1p0.xsd"
CP_NS = "http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1"
CP_SCHEMA = "https://purl.imsglobal.org/spec/qti/v3p0/schema/xsd/imsqtiv3p0_imscpv1p2_v1p0.xsd"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XML_NS = "http://www.w3.org/XML/1998/namespace"

MAX_ZIP_ENTRIES = 5_000
MAX_ZIP_MEMBER = 16 * 1024 * 1024
MAX_ZIP_TOTAL = 128 * 1024 * 1024

_INTERACTIONS = {
    "extendedTextInteraction": "réponse rédigée",
    "textEntryInteraction": "réponse courte (texte saisi)",
    "matchInteraction": "appariement",
    "associateInteraction": "association",
    "orderInteraction": "classement",
    "gapMatchInteraction": "glisser-déposer dans un texte",
    "inlineChoiceInteraction": "choix dans un texte à trous",
    "hottextInteraction": "sélection dans un texte",
    "hotspotInteraction": "interaction graphique",
    "graphicOrderInteraction": "interaction graphique",
    "graphicAssociateInteraction": "interaction graphique",
    "graphicGapMatchInteraction": "interaction graphique",
    "selectPointInteraction": "interaction graphique",
    "positionObjectInteraction": "interaction graphique",
    "sliderInteraction": "curseur",
    "uploadInteraction": "dépôt de fichier",
    "drawingInteraction": "dessin",
    "mediaInteraction": "média",
    "customInteraction": "interaction personnalisée",
    "portableCustomInteraction": "interaction personnalisée",
    "endAttemptInteraction": "fin de tentative",
}
_HTML_TAGS = {
    "p", "div", "span", "br", "strong", "b", "em", "i", "code", "pre", "kbd", "samp", "ul", "ol",
    "li", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "a", "img", "sub", "sup", "table",
    "thead", "tbody", "tfoot", "tr", "th", "td", "hr", "dl", "dt", "dd", "caption", "q", "cite",
    "abbr", "small", "big", "var", "dfn", "address", "figure", "figcaption", "section",
    "article", "aside", "header", "footer",
}  # fmt: skip
_DROPPED = {"feedbackBlock", "feedbackInline", "templateBlock", "templateInline", "rubricBlock"}
_VOID = {"br", "img", "hr"}


# ─── Names: QTI 3 kebab-case (qti-choice-interaction) read as QTI 2 camelCase ──────────


def _name(element) -> str:
    local = local_name(element.tag)
    if local.startswith("qti-"):
        first, *rest = local[4:].split("-")
        return first + "".join(part[:1].upper() + part[1:] for part in rest)
    return local


def _attr(element, name: str, default: str | None = None) -> str | None:
    if element is None:
        return default
    kebab = re.sub(r"([A-Z])", lambda m: "-" + m.group(1).lower(), name)
    value = element.get(name, element.get(kebab))
    return default if value is None else value


def _children(element, name: str) -> list:
    return [] if element is None else [c for c in element if _name(c) == name]


def _child(element, name: str):
    found = _children(element, name)
    return found[0] if found else None


def _descendants(element, name: str) -> list:
    return [] if element is None else [e for e in element.iter() if _name(e) == name]


def _version(root) -> str:
    namespace = root.tag[1:].split("}")[0] if root.tag.startswith("{") else ""
    if "imsqtiasi_v3p0" in namespace or local_name(root.tag).startswith("qti-"):
        return "qti3"
    return "qti21"


# ─── Import ─────────────────────────────────────────────────────────────────────────────


def import_qti(
    data: bytes, *, filename: str, today: date | None = None, expected: str | None = None
) -> ImportResult:
    """Read a QTI item file or content package (zip) into the bank dict."""
    draft = Draft(filename=filename, source="QTI", today=today or date.today())
    if data[:4] == b"PK\x03\x04":
        with _Package(data, filename) as package:
            draft.source = f"paquet QTI {'3.0' if package.version == 'qti3' else '2.1'}"
            _check_version(package.version, expected, filename)
            for path in package.items:
                root = parse_xml(package.read(path), f"{filename}:{path}")
                topic = package.sections.get(path)
                _read_item(
                    draft,
                    root,
                    images=partial(package.image, posixpath.dirname(path)),
                    topic=draft.topic(topic[1], slug=topic[0]) if topic else draft.topic(None),
                )
            return draft.result(title=package.title)
    root = parse_xml(data, filename)
    if _name(root) != "assessmentItem":
        raise ConversionError(
            f"{filename}: pas un item QTI (élément racine « {local_name(root.tag)} ») ; "
            "un paquet QTI est un fichier zip contenant imsmanifest.xml"
        )
    version = _version(root)
    draft.source = f"QTI {'3.0' if version == 'qti3' else '2.1'}"
    _check_version(version, expected, filename)
    _read_item(draft, root, images=None, topic=draft.topic(None))
    return draft.result()


def package_version(data: bytes, filename: str) -> str:
    """``qti3`` or ``qti21``: the item resources announced by a package's manifest."""
    with _Package(data, filename) as package:
        return package.version


def _check_version(found: str, expected: str | None, filename: str) -> None:
    if expected and expected != found:
        labels = {"qti21": "QTI 2.1", "qti3": "QTI 3.0"}
        raise ConversionError(
            f"{filename}: le fichier est au format {labels[found]}, pas {labels[expected]} "
            f"(utilisez --from {found})"
        )


def _read_item(draft: Draft, root, *, images, topic: str) -> None:
    identifier = _attr(root, "identifier") or ""
    label = " ".join((_attr(root, "title") or identifier or "(sans titre)").split())
    body = _child(root, "itemBody")
    interactions = [e for e in (body.iter() if body is not None else ()) if _is_interaction(e)]
    if not interactions:
        draft.skip(label, "sans interaction", unsupported_reason("", "item sans interaction"))
        return
    if len(interactions) > 1:
        kinds = ", ".join(sorted({_name(e) for e in interactions}))
        draft.skip(label, kinds, "plusieurs interactions dans un même item : non représentable")
        return
    interaction = interactions[0]
    kind = _name(interaction)
    declarations = {_attr(d, "identifier"): d for d in _children(root, "responseDeclaration")}
    declaration = declarations.get(_attr(interaction, "responseIdentifier"))
    numeric = kind == "textEntryInteraction" and _attr(declaration, "baseType") in (
        "float",
        "integer",
    )
    if kind != "choiceInteraction" and not numeric:
        draft.skip(label, kind, unsupported_reason(kind, _INTERACTIONS.get(kind)))
        return
    if declaration is None:
        draft.skip(label, kind, "déclaration de la réponse (responseDeclaration) introuvable")
        return
    where = f"question « {label} »"
    ctx = TextContext(where, draft.warnings, images)
    serializer = _Serializer(interaction, ctx)
    stem = to_markdown(serializer.html(body), "html", ctx)
    feedbacks = [
        to_markdown(_Serializer(None, ctx).html(f), "html", ctx)
        for f in _children(root, "modalFeedback")
    ]
    feedbacks = [f for f in feedbacks if f.strip()]
    if len(feedbacks) > 1:
        draft.warn(f"{where} : {len(feedbacks)} retours (modalFeedback) réunis dans l'explication")
    common = {
        "name": label,
        "qid": draft.question_id(identifier.lstrip("_"), label),
        "topic": topic,
        "stem": stem,
        "explanation": "\n\n".join(feedbacks),
    }
    processing = _child(root, "responseProcessing")
    if numeric:
        _numeric(draft, declaration, processing, serializer.unit, common)
    else:
        _choice(draft, interaction, declaration, processing, ctx, common)


def _is_interaction(element) -> bool:
    name = _name(element)
    return name.endswith("Interaction") and name not in ("endAttemptInteraction",)


def _values(declaration) -> list[str]:
    correct = _child(declaration, "correctResponse")
    return [(v.text or "").strip() for v in _children(correct, "value")]


def _choice(draft: Draft, interaction, declaration, processing, ctx, common: dict) -> None:
    label = common["name"]
    choices = _descendants(interaction, "simpleChoice")
    identifiers = [_attr(c, "identifier") or "" for c in choices]
    texts = [to_markdown(_Serializer(None, ctx).html(c), "html", ctx, inline=True) for c in choices]
    mapping = _child(declaration, "mapping")
    entries = {
        _attr(e, "mapKey"): _decimal(_attr(e, "mappedValue"))
        for e in _children(mapping, "mapEntry")
    }
    correct = _values(declaration) or [k for k, v in entries.items() if v is not None and v > 0]
    if not correct:
        draft.skip(label, "choiceInteraction", "aucune réponse correcte déclarée")
        return
    missing = [c for c in correct if c not in identifiers]
    if missing:
        draft.skip(label, "choiceInteraction", f"réponse correcte « {missing[0]} » hors des choix")
        return
    flags = tuple(i in correct for i in identifiers)
    option_ids = [i.lower().lstrip("_") for i in identifiers]
    if (_attr(declaration, "cardinality") or "single") == "single":
        if len(correct) != 1:
            draft.skip(label, "choiceInteraction", "choix unique avec plusieurs réponses correctes")
            return
        truth = _true_false(identifiers, texts)
        if truth is not None:
            draft.add_true_false(
                answer=truth[correct[0]], source_type="choiceInteraction", **common
            )
            return
        key = ChoiceKey("single_choice", flags)
    else:
        notes, partial = (), False
        if mapping is not None and _uses_mapping(processing):
            default = _decimal(_attr(mapping, "defaultValue", "0")) or Decimal(0)
            shown = ", ".join(
                f"{k} = {number_text(v)}" for k, v in entries.items() if v is not None
            )
            shown += f", autres = {number_text(default)}"
            if any(v is not None and v < 0 for v in entries.values()) or default < 0:
                partial = True
                notes = (
                    f"barème QTI (mapResponse : {shown}) approché par le crédit partiel de la "
                    "banque : partial_credit: true",
                )
            else:
                notes = (
                    f"barème QTI (mapResponse : {shown}) sans pénalité approché par le tout "
                    "ou rien",
                )
        key = ChoiceKey("multiple_choice", flags, notes, partial_credit=partial)
    draft.add_choice(
        texts=texts, key=key, option_ids=option_ids, source_type="choiceInteraction", **common
    )


def _true_false(identifiers: list[str], texts: list[str]) -> dict[str, bool] | None:
    """The truth of each choice when the two choices are true/false (or Vrai/Faux)."""
    if len(identifiers) != 2:
        return None
    for values in (identifiers, texts):
        lowered = [v.strip().lower().lstrip("_") for v in values]
        if sorted(lowered) in (["false", "true"], ["faux", "vrai"]):
            return {i: v in ("true", "vrai") for i, v in zip(identifiers, lowered, strict=True)}
    return None


def _uses_mapping(processing) -> bool:
    if processing is None:
        return True
    template = _attr(processing, "template") or ""
    return bool(re.search(r"map_response(\.xml)?$", template)) or bool(
        _descendants(processing, "mapResponse")
    )


def _numeric(draft: Draft, declaration, processing, unit, common: dict) -> None:
    label = common["name"]
    values = _values(declaration)
    answer = _decimal(values[0]) if len(values) == 1 else None
    if answer is None:
        draft.skip(label, "textEntryInteraction", "valeur numérique correcte introuvable")
        return
    tolerance = Decimal(0)
    equal = next(iter(_descendants(processing, "equal")), None)
    if equal is not None:
        mode = _attr(equal, "toleranceMode", "exact")
        bounds = [_decimal(v) for v in (_attr(equal, "tolerance") or "0").split()]
        bounds = [abs(b) for b in bounds if b is not None] or [Decimal(0)]
        if mode == "absolute":
            tolerance = min(bounds)
            if len(set(bounds)) > 1:
                draft.warn(
                    f"question « {label} » : tolérance asymétrique ramenée à ± "
                    f"{number_text(tolerance)}"
                )
        elif mode == "relative":
            tolerance = abs(answer) * min(bounds) / 100
            draft.warn(
                f"question « {label} » : tolérance relative de {number_text(min(bounds))} % "
                f"convertie en ± {number_text(tolerance)}"
            )
    elif _descendants(processing, "equalRounded"):
        draft.warn(f"question « {label} » : arrondi (equalRounded) remplacé par une valeur exacte")
    draft.add_numeric(
        answer=answer,
        tolerance=tolerance,
        unit=unit,
        source_type="textEntryInteraction",
        **common,
    )


def _decimal(text: str | None) -> Decimal | None:
    return parse_decimal(text)


class _Serializer:
    """Item content as HTML: the interaction becomes its prompt; feedback blocks are dropped."""

    def __init__(self, interaction, ctx: TextContext) -> None:
        self.interaction = interaction
        self.ctx = ctx
        self.unit: str | None = None

    def html(self, element) -> str:
        parts = [escape(element.text or "", quote=False)]
        for child in element:
            name = _name(child)
            if child is self.interaction:
                prompt = _child(child, "prompt")
                if prompt is not None:
                    parts.append(f"<p>{self.html(prompt)}</p>")
            elif "ccpq-unit" in (child.get("class") or "").split():
                self.unit = " ".join("".join(child.itertext()).split()) or None
            elif name in _DROPPED:
                if "".join(child.itertext()).strip():
                    self.ctx.warnings.append(f"{self.ctx.where} : bloc « {name} » non repris")
            elif name in _HTML_TAGS:
                attributes = "".join(
                    f' {key}="{escape(value)}"'
                    for key in ("href", "src", "alt")
                    if (value := child.get(key)) is not None
                )
                inner = "" if name in _VOID else f"{self.html(child)}</{name}>"
                parts.append(f"<{name}{attributes}>{inner}")
            else:
                parts.append(self.html(child))
            parts.append(escape(child.tail or "", quote=False))
        return "".join(parts)


class _Package:
    """A zip content package read defensively; ``items`` in manifest order."""

    def __init__(self, data: bytes, filename: str) -> None:
        self.filename = filename
        try:
            self.archive = zipfile.ZipFile(io.BytesIO(data))
            infos = self.archive.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError):
            raise ConversionError(f"{filename}: archive zip illisible") from None
        if len(infos) > MAX_ZIP_ENTRIES:
            raise ConversionError(
                f"{filename}: archive refusée : {len(infos)} fichiers (au plus {MAX_ZIP_ENTRIES})"
            )
        self.members: dict[str, zipfile.ZipInfo] = {}
        self.read_total = 0
        total = 0
        for info in infos:
            name = info.filename
            if not _safe_path(name):
                raise ConversionError(
                    f"{filename}: archive refusée : chemin « {name} » hors du paquet"
                )
            if info.is_dir():
                continue
            if info.file_size > MAX_ZIP_MEMBER:
                raise ConversionError(
                    f"{filename}: archive refusée : « {name} » trop volumineux "
                    f"({info.file_size} octets, au plus {MAX_ZIP_MEMBER})"
                )
            total += info.file_size
            if total > MAX_ZIP_TOTAL:
                raise ConversionError(
                    f"{filename}: archive refusée : plus de {MAX_ZIP_TOTAL} octets décompressés"
                )
            self.members[posixpath.normpath(name)] = info
        if "imsmanifest.xml" not in self.members:
            raise ConversionError(f"{filename}: paquet QTI sans imsmanifest.xml à la racine")
        self._read_manifest()

    def __enter__(self) -> _Package:
        return self

    def __exit__(self, *exc) -> None:
        self.archive.close()

    def read(self, path: str) -> bytes:
        """One member, read with a cap (whatever its header says) and counted in the total."""
        info = self.members.get(path)
        if info is None:
            raise ConversionError(f"{self.filename}: « {path} » annoncé par le manifeste, absent")
        try:
            with self.archive.open(info) as handle:
                content = handle.read(MAX_ZIP_MEMBER + 1)
        except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError):
            raise ConversionError(f"{self.filename}: « {path} » illisible dans l'archive") from None
        self.read_total += len(content)
        if len(content) > MAX_ZIP_MEMBER or self.read_total > MAX_ZIP_TOTAL:
            raise ConversionError(f"{self.filename}: archive refusée : « {path} » trop volumineux")
        return content

    def image(self, base: str, src: str) -> tuple[str, bytes] | None:
        if re.match(r"^[a-z][a-z0-9+.-]*:", src, re.I) or src.startswith("/"):
            return None
        path = unquote(posixpath.normpath(posixpath.join(base, src.split("?")[0].split("#")[0])))
        if not _safe_path(path) or path not in self.members:
            return None
        return posixpath.basename(path), self.read(path)

    def _read_manifest(self) -> None:
        manifest = parse_xml(self.read("imsmanifest.xml"), f"{self.filename}:imsmanifest.xml")
        self.items: list[str] = []
        self.sections: dict[str, tuple[str, str]] = {}
        self.title: str | None = None
        versions = set()
        tests = []
        for resources in (e for e in manifest.iter() if local_name(e.tag) == "resources"):
            base = resources.get(f"{{{XML_NS}}}base") or ""
            for resource in (e for e in resources if local_name(e.tag) == "resource"):
                kind = resource.get("type") or ""
                href = resource.get("href")
                if not href:
                    continue
                path = self._path(base, resource.get(f"{{{XML_NS}}}base") or "", href)
                if kind.startswith("imsqti_item_xmlv"):
                    versions.add("qti3" if "v3p0" in kind else "qti21")
                    if path not in self.items:
                        self.items.append(path)
                elif kind.startswith("imsqti_test_xmlv"):
                    tests.append(path)
        if not self.items:
            raise ConversionError(f"{self.filename}: aucun item QTI annoncé par imsmanifest.xml")
        self.version = "qti3" if versions == {"qti3"} else "qti21"
        for test in tests[:1]:
            self._read_test(test)

    def _path(self, *parts: str) -> str:
        path = posixpath.normpath(posixpath.join(*parts))
        if not _safe_path(path):
            raise ConversionError(
                f"{self.filename}: archive refusée : chemin « {path} » hors du paquet"
            )
        return path

    def _read_test(self, path: str) -> None:
        """Sections of the test: item path → (section identifier, section title)."""
        test = parse_xml(self.read(path), f"{self.filename}:{path}")
        self.title = " ".join((_attr(test, "title") or "").split()) or None
        base = posixpath.dirname(path)
        for section in _descendants(test, "assessmentSection"):
            key = (_attr(section, "identifier") or "").lstrip("_")
            title = " ".join((_attr(section, "title") or key).split())
            for ref in _children(section, "assessmentItemRef"):
                href = _attr(ref, "href")
                if href:
                    self.sections.setdefault(self._path(base, href), (key, title))


def _safe_path(name: str) -> bool:
    if not name or "\x00" in name or "\\" in name or name.startswith("/"):
        return False
    if re.match(r"^[A-Za-z]:", name):
        return False
    return ".." not in name.split("/")


# ─── Export ─────────────────────────────────────────────────────────────────────────────

_markdown = MarkdownIt("commonmark", {"html": False}).enable("table")


def export_qti3(bank: dict | BankDocument) -> ExportResult:
    """The bank as a QTI 3.0 content package (zip bytes)."""
    document = as_document(bank)
    files: list[tuple[str, bytes]] = []
    hrefs: dict[str, str] = {}
    for question in document.questions:
        href = f"items/{question.id}.xml"
        hrefs[question.id] = href
        files.append((href, _xml(_item(question, document))))
    files.insert(0, ("test.xml", _xml(_test(document, hrefs))))
    files.insert(0, ("imsmanifest.xml", _xml(_manifest(document, hrefs))))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    warnings = export_warnings(document, "QTI 3.0")
    return ExportResult(buffer.getvalue(), warnings)


def qti_identifier(value: str) -> str:
    """QTI identifiers are NCNames: one starting with a digit gets a leading underscore."""
    return value if re.match(r"[A-Za-z_]", value) else f"_{value}"


def _xml(root: ET.Element) -> bytes:
    """Elements are built without namespace; the root declares the default one."""
    _indent(root)
    text = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{text}\n'.encode()


def _indent(element: ET.Element, level: int = 0) -> None:
    """Indentation that never enters content (HTML, choices), where whitespace matters."""
    children = list(element)
    if not children or element.tag in _HTML_TAGS or element.tag == "qti-simple-choice":
        return
    pad = "\n" + "  " * (level + 1)
    if not (element.text or "").strip():
        element.text = pad
    for child in children:
        _indent(child, level + 1)
        if not (child.tail or "").strip():
            child.tail = pad
    if not (children[-1].tail or "").strip():
        children[-1].tail = "\n" + "  " * level


def _q(tag: str) -> str:
    return tag


def _root(tag: str, namespace: str, schema: str, **attributes: str) -> ET.Element:
    return ET.Element(
        tag,
        {
            "xmlns": namespace,
            "xmlns:xsi": XSI,
            "xsi:schemaLocation": f"{namespace} {schema}",
            **attributes,
        },
    )


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attributes) -> ET.Element:
    element = ET.SubElement(
        parent, _q(tag), {k.replace("_", "-"): v for k, v in attributes.items()}
    )
    if text is not None:
        element.text = text
    return element


def _item(question, document: BankDocument) -> ET.Element:
    item = _root(
        "qti-assessment-item",
        QTI3_NS,
        QTI3_SCHEMA,
        identifier=qti_identifier(question.id),
        title=question.id,
        adaptive="false",
        **{"time-dependent": "false", "xml:lang": "fr"},
    )
    partial = document.partial_credit and question.type == "multiple_choice"
    declaration = _sub(item, "qti-response-declaration", identifier="RESPONSE")
    correct = _sub(declaration, "qti-correct-response")
    if isinstance(question, ChoiceQuestion):
        multiple = question.type == "multiple_choice"
        declaration.set("cardinality", "multiple" if multiple else "single")
        declaration.set("base-type", "identifier")
        for option_id in question.correct_option_ids:
            _sub(correct, "qti-value", qti_identifier(option_id))
        if partial:
            weight = (Decimal(1) / len(question.correct_option_ids)).quantize(
                Decimal("0.000001"), rounding=ROUND_CEILING
            )
            mapping = _sub(
                declaration, "qti-mapping", lower_bound="0", upper_bound="1", default_value="0"
            )
            for option in question.options:
                value = weight if option.correct else -weight
                _sub(
                    mapping,
                    "qti-map-entry",
                    map_key=qti_identifier(option.id),
                    mapped_value=number_text(value),
                )
    elif isinstance(question, TrueFalseQuestion):
        declaration.set("cardinality", "single")
        declaration.set("base-type", "identifier")
        _sub(correct, "qti-value", "true" if question.answer else "false")
    else:
        declaration.set("cardinality", "single")
        declaration.set("base-type", "float")
        _sub(correct, "qti-value", number_text(question.answer))
    for identifier, base_type, default in (
        ("SCORE", "float", "0"),
        ("MAXSCORE", "float", "1"),
        ("FEEDBACK", "identifier", None),
    ):
        outcome = _sub(
            item,
            "qti-outcome-declaration",
            identifier=identifier,
            cardinality="single",
            base_type=base_type,
        )
        if default is not None:
            _sub(_sub(outcome, "qti-default-value"), "qti-value", default)
    body = _sub(item, "qti-item-body")
    _append_html(body, _markdown.render(question.stem))
    shuffle = document.blueprint.shuffle_options if document.blueprint else True
    if isinstance(question, NumericQuestion):
        paragraph = _sub(body, "p")
        _sub(
            paragraph, "qti-text-entry-interaction", response_identifier="RESPONSE",
            expected_length="15",
        )  # fmt: skip
        if question.unit:
            _sub(paragraph, "span", question.unit, **{"class": "ccpq-unit"}).tail = None
            paragraph[0].tail = " "
    else:
        interaction = _sub(
            body,
            "qti-choice-interaction",
            response_identifier="RESPONSE",
            shuffle="true" if shuffle and isinstance(question, ChoiceQuestion) else "false",
            max_choices="0" if question.type == "multiple_choice" else "1",
        )
        if isinstance(question, ChoiceQuestion):
            for option in question.options:
                choice = _sub(
                    interaction, "qti-simple-choice", identifier=qti_identifier(option.id)
                )
                _append_html(choice, _markdown.renderInline(option.text))
        else:
            _sub(interaction, "qti-simple-choice", "Vrai", identifier="true")
            _sub(interaction, "qti-simple-choice", "Faux", identifier="false")
    _processing(item, question, partial)
    feedback = _sub(
        item,
        "qti-modal-feedback",
        outcome_identifier="FEEDBACK",
        identifier="EXPLANATION",
        show_hide="show",
        title="Explication",
    )
    _append_html(_sub(feedback, "qti-content-body"), _markdown.render(question.explanation))
    return item


def _score(parent: ET.Element, value: ET.Element | str) -> None:
    setter = _sub(parent, "qti-set-outcome-value", identifier="SCORE")
    if isinstance(value, str):
        _sub(setter, "qti-base-value", value, base_type="float")
    else:
        setter.append(value)


def _processing(item: ET.Element, question, partial: bool) -> None:
    processing = _sub(item, "qti-response-processing")
    condition = _sub(processing, "qti-response-condition")
    branch = _sub(condition, "qti-response-if")
    if partial:
        null = _sub(branch, "qti-is-null")
        _sub(null, "qti-variable", identifier="RESPONSE")
        _score(branch, "0")
        otherwise = _sub(condition, "qti-response-else")
        _score(otherwise, ET.Element(_q("qti-map-response"), {"identifier": "RESPONSE"}))
    else:
        if isinstance(question, NumericQuestion):
            tolerance = number_text(question.tolerance)
            test = _sub(branch, "qti-equal", tolerance_mode="exact")
            if question.tolerance:
                test.set("tolerance-mode", "absolute")
                test.set("tolerance", tolerance)
                test.set("include-lower-bound", "true")
                test.set("include-upper-bound", "true")
        else:
            test = _sub(branch, "qti-match")
        _sub(test, "qti-variable", identifier="RESPONSE")
        _sub(test, "qti-correct", identifier="RESPONSE")
        _score(branch, "1")
        _score(_sub(condition, "qti-response-else"), "0")
    feedback = _sub(processing, "qti-set-outcome-value", identifier="FEEDBACK")
    _sub(feedback, "qti-base-value", "EXPLANATION", base_type="identifier")


def _test(document: BankDocument, hrefs: dict[str, str]) -> ET.Element:
    test = _root(
        "qti-assessment-test",
        QTI3_NS,
        QTI3_SCHEMA,
        identifier=qti_identifier(f"test-{document.id}"),
        title=document.title,
    )
    part = _sub(
        test, "qti-test-part", identifier="partie-1", navigation_mode="nonlinear",
        submission_mode="simultaneous",
    )  # fmt: skip
    for topic, label in document.topics.items():
        questions = [q for q in document.questions if q.topic == topic]
        if not questions:
            continue
        section = _sub(
            part, "qti-assessment-section", identifier=qti_identifier(topic), title=label,
            visible="true",
        )  # fmt: skip
        for question in questions:
            _sub(
                section, "qti-assessment-item-ref", identifier=qti_identifier(question.id),
                href=hrefs[question.id],
            )  # fmt: skip
    return test


def _manifest(document: BankDocument, hrefs: dict[str, str]) -> ET.Element:
    def cp(tag: str) -> str:
        return tag

    manifest = _root(
        "manifest", CP_NS, CP_SCHEMA, identifier=qti_identifier(f"manifest-{document.id}")
    )
    metadata = ET.SubElement(manifest, cp("metadata"))
    ET.SubElement(metadata, cp("schema")).text = "QTI Package"
    ET.SubElement(metadata, cp("schemaversion")).text = "3.0.0"
    ET.SubElement(manifest, cp("organizations"))
    resources = ET.SubElement(manifest, cp("resources"))
    test = ET.SubElement(
        resources,
        cp("resource"),
        {"identifier": "test", "type": "imsqti_test_xmlv3p0", "href": "test.xml"},
    )
    ET.SubElement(test, cp("file"), {"href": "test.xml"})
    for question_id in hrefs:
        ET.SubElement(test, cp("dependency"), {"identifierref": f"item-{question_id}"})
    for question_id, href in hrefs.items():
        resource = ET.SubElement(
            resources,
            cp("resource"),
            {"identifier": f"item-{question_id}", "type": "imsqti_item_xmlv3p0", "href": href},
        )
        ET.SubElement(resource, cp("file"), {"href": href})
    return manifest


class _Builder(HTMLParser):
    """Sanitised HTML appended as QTI-namespace elements (well-formed by construction)."""

    def __init__(self, parent: ET.Element) -> None:
        super().__init__(convert_charrefs=True)
        self.stack = [parent]

    def handle_starttag(self, tag, attrs):
        keep = {"a": ("href",), "img": ("src", "alt")}.get(tag, ())
        element = ET.SubElement(
            self.stack[-1], _q(tag), {k: v or "" for k, v in attrs if k in keep}
        )
        if tag == "img" and "alt" not in element.attrib:
            element.set("alt", "")
        if tag not in _VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        for index in range(len(self.stack) - 1, 0, -1):
            if self.stack[index].tag == _q(tag):
                del self.stack[index:]
                return

    def handle_data(self, data):
        parent = self.stack[-1]
        if len(parent):
            parent[-1].tail = (parent[-1].tail or "") + data
        else:
            parent.text = (parent.text or "") + data


def _append_html(parent: ET.Element, html: str) -> None:
    builder = _Builder(parent)
    builder.feed(sanitise_html(html))
    builder.close()
