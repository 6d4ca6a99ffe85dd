"""QTI 2.1 / 3.0 import and QTI 3.0 package export. No database."""

import io
import zipfile
from decimal import Decimal

import pytest
from defusedxml.ElementTree import fromstring

from app.banks.format import BankDocument
from app.banks.interchange import qti
from app.banks.interchange.common import ConversionError
from app.banks.interchange.qti import export_qti3, import_qti
from tests.banks.interchange import ROUND_TRIP_BANK, TODAY, fixture, parse

QTI21 = "http://www.imsglobal.org/xsd/imsqti_v2p1"
QTI3 = "{http://www.imsglobal.org/xsd/imsqtiasi_v3p0}"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def manifest(*resources: tuple[str, str]) -> bytes:
    entries = "".join(
        f'<resource identifier="r{n}" type="{kind}" href="{href}"><file href="{href}"/></resource>'
        for n, (kind, href) in enumerate(resources)
    )
    return (
        '<?xml version="1.0"?><manifest xmlns="http://www.imsglobal.org/xsd/imscp_v1p1" '
        f'identifier="m"><organizations/><resources>{entries}</resources></manifest>'
    ).encode()


def package(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def item21(body: str, declarations: str = "", identifier: str = "item") -> bytes:
    return (
        f'<assessmentItem xmlns="{QTI21}" identifier="{identifier}" title="Essai {identifier}" '
        f'adaptive="false" timeDependent="false">{declarations}<itemBody>{body}</itemBody>'
        "</assessmentItem>"
    ).encode()


def options(question: dict) -> list[tuple[str, str, bool]]:
    return [(o["id"], o["text"], o["correct"]) for o in question["options"]]


class TestQti21Fixtures:
    def test_single_choice(self):
        result = import_qti(fixture("qti21/choice.xml"), filename="choice.xml", today=TODAY)
        (question,) = result.bank["questions"]
        assert (question["id"], question["type"]) == ("choice", "single_choice")
        assert options(question) == [
            ("choicea", "You must stay with your luggage at all times.", True),
            ("choiceb", "Do not let someone else look after your luggage.", False),
            ("choicec", "Remember your luggage when you leave.", False),
        ]
        assert question["stem"] == (
            "Look at the text in the picture.\n\n"
            "(image non reprise : NEVER LEAVE LUGGAGE UNATTENDED)\n\n"
            "What does it say?"
        )
        assert (
            "question « Unattended Luggage » : image « sign.png » absente du fichier importé, "
            "non reprise"
        ) in result.warnings
        assert result.bank["partial_credit"] is False

    def test_multiple_choice_with_map_response(self):
        result = import_qti(
            fixture("qti21/choice_multiple.xml"), filename="multiple.xml", today=TODAY
        )
        (question,) = result.bank["questions"]
        assert question["type"] == "multiple_choice"
        assert {o["id"] for o in question["options"] if o["correct"]} == {"h", "o"}
        assert question["stem"] == "Which of the following elements are used to form water?"
        assert result.bank["partial_credit"] is True
        assert (
            "question « Composition of Water » : barème QTI (mapResponse : H = 1, O = 1, "
            "Cl = -1, autres = -2) approché par le crédit partiel de la banque : "
            "partial_credit: true"
        ) in result.warnings
        assert BankDocument.model_validate(result.bank).model_dump(mode="json") == result.bank

    def test_package_of_items_with_an_image(self):
        data = package(
            {
                "imsmanifest.xml": manifest(
                    ("imsqti_item_xmlv2p1", "items/choice.xml"),
                    ("imsqti_item_xmlv2p1", "items/choice_multiple.xml"),
                    ("webcontent", "items/images/sign.png"),
                ),
                "items/choice.xml": fixture("qti21/choice.xml"),
                "items/choice_multiple.xml": fixture("qti21/choice_multiple.xml"),
                "items/images/sign.png": PNG,
            }
        )
        result = import_qti(data, filename="paquet.zip", today=TODAY)
        first, second = result.bank["questions"]
        image = "![NEVER LEAVE LUGGAGE UNATTENDED](data:image/png;base64,iVBORw0KGgo"
        assert image in first["stem"]
        assert second["type"] == "multiple_choice"
        assert result.bank["changelog"][0]["summary"] == (
            "Import de « paquet.zip » (paquet QTI 2.1) : à relire."
        )


class TestInteractions:
    def test_other_interactions_are_reported(self):
        essay = item21(
            '<extendedTextInteraction responseIdentifier="R"/>',
            '<responseDeclaration identifier="R" cardinality="single" baseType="string"/>',
            identifier="essay",
        )
        result = import_qti(essay, filename="essay.xml", today=TODAY)
        assert [(s.name, s.type) for s in result.skipped] == [
            ("Essai essay", "extendedTextInteraction")
        ]
        assert result.skipped[0].reason.startswith("réponse rédigée : la banque ne connaît que")
        text = item21(
            '<p>Capitale ? <textEntryInteraction responseIdentifier="R"/></p>',
            '<responseDeclaration identifier="R" cardinality="single" baseType="string">'
            "<correctResponse><value>Paris</value></correctResponse></responseDeclaration>",
        )
        result = import_qti(text, filename="texte.xml", today=TODAY)
        assert [(s.name, s.type) for s in result.skipped] == [
            ("Essai item", "textEntryInteraction")
        ]

    def test_numeric_text_entry_with_tolerance(self):
        data = item21(
            '<p>Taux ? <textEntryInteraction responseIdentifier="R"/> %</p>',
            '<responseDeclaration identifier="R" cardinality="single" baseType="float">'
            "<correctResponse><value>17.2</value></correctResponse></responseDeclaration>",
        ).replace(
            b"</assessmentItem>",
            b'<responseProcessing><responseCondition><responseIf><equal toleranceMode="absolute"'
            b' tolerance="0.1 0.2"><variable identifier="R"/><correct identifier="R"/></equal>'
            b"</responseIf></responseCondition></responseProcessing></assessmentItem>",
        )
        result = import_qti(data, filename="nombre.xml", today=TODAY)
        (question,) = result.bank["questions"]
        assert (question["type"], question["answer"], question["tolerance"]) == (
            "numeric",
            "17.2",
            "0.1",
        )
        assert question["stem"] == "Taux ? %"
        assert any("tolérance asymétrique ramenée à ± 0.1" in w for w in result.warnings)

    def test_true_false_choices(self):
        data = item21(
            '<choiceInteraction responseIdentifier="R" maxChoices="1"><prompt>Vrai ?</prompt>'
            '<simpleChoice identifier="V">Vrai</simpleChoice>'
            '<simpleChoice identifier="F">Faux</simpleChoice></choiceInteraction>',
            '<responseDeclaration identifier="R" cardinality="single" baseType="identifier">'
            "<correctResponse><value>F</value></correctResponse></responseDeclaration>",
        )
        (question,) = import_qti(data, filename="vf.xml", today=TODAY).bank["questions"]
        assert (question["type"], question["answer"], question["stem"]) == (
            "true_false",
            False,
            "Vrai ?",
        )

    def test_version_must_match_the_format_asked(self):
        with pytest.raises(ConversionError, match=r"au format QTI 2\.1, pas QTI 3\.0"):
            import_qti(fixture("qti21/choice.xml"), filename="choice.xml", expected="qti3")


def test_single_qti3_item_file():
    archive = zipfile.ZipFile(io.BytesIO(export_qti3(parse(ROUND_TRIP_BANK)).data))
    item = archive.read("items/q-vrai-faux.xml")
    result = import_qti(item, filename="item.xml", today=TODAY, expected="qti3")
    (question,) = result.bank["questions"]
    assert (question["id"], question["type"], question["answer"]) == (
        "q-vrai-faux",
        "true_false",
        False,
    )
    assert question["stem"] == "Le barème de l'impôt sur le revenu est progressif."
    assert question["explanation"].startswith("Il l'est, par tranches")
    assert result.bank["changelog"][0]["summary"] == "Import de « item.xml » (QTI 3.0) : à relire."


class TestZipSafety:
    def test_path_traversal_is_refused(self):
        data = package({"imsmanifest.xml": manifest(), "../evil.xml": b"<x/>"})
        with pytest.raises(ConversionError, match="chemin « ../evil.xml » hors du paquet"):
            import_qti(data, filename="p.zip")

    def test_manifest_href_leaving_the_package_is_refused(self):
        data = package({"imsmanifest.xml": manifest(("imsqti_item_xmlv2p1", "../../etc/x.xml"))})
        with pytest.raises(ConversionError, match="hors du paquet"):
            import_qti(data, filename="p.zip")

    def test_oversized_member_is_refused(self, monkeypatch):
        monkeypatch.setattr(qti, "MAX_ZIP_MEMBER", 100)
        data = package(
            {
                "imsmanifest.xml": manifest(("imsqti_item_xmlv2p1", "choice.xml")),
                "choice.xml": fixture("qti21/choice.xml"),
            }
        )
        with pytest.raises(ConversionError, match="trop volumineux"):
            import_qti(data, filename="p.zip")

    def test_package_without_manifest_or_items(self):
        with pytest.raises(ConversionError, match="sans imsmanifest.xml"):
            import_qti(package({"a.xml": b"<x/>"}), filename="p.zip")
        with pytest.raises(ConversionError, match="aucun item QTI"):
            import_qti(package({"imsmanifest.xml": manifest()}), filename="p.zip")
        with pytest.raises(ConversionError, match="archive zip illisible"):
            import_qti(b"PK\x03\x04 tronque", filename="p.zip")

    def test_corrupted_member_is_refused(self):
        data = bytearray(
            package(
                {
                    "imsmanifest.xml": manifest(("imsqti_item_xmlv2p1", "choice.xml")),
                    "choice.xml": fixture("qti21/choice.xml"),
                }
            )
        )
        start = data.index(b"<?xml", data.index(b"choice.xml") + 10)
        data[start : start + 5] = b"XXXXX"  # stored, not deflated: the CRC no longer matches
        with pytest.raises(ConversionError, match="« choice.xml » illisible dans l'archive"):
            import_qti(bytes(data), filename="p.zip")


class TestExport:
    @pytest.fixture
    def archive(self):
        text = ROUND_TRIP_BANK.replace("\nvalid_from:", "\npartial_credit: true\nvalid_from:")
        bank = parse(text)
        assert bank.partial_credit
        return zipfile.ZipFile(io.BytesIO(export_qti3(bank).data))

    def test_content_package(self, archive):
        assert archive.namelist() == [
            "imsmanifest.xml",
            "test.xml",
            "items/q-unique.xml",
            "items/q-multiple.xml",
            "items/q-vrai-faux.xml",
            "items/q-nombre.xml",
        ]
        manifest_root = fromstring(archive.read("imsmanifest.xml"))
        cp = "{http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1}"
        resources = [(r.get("type"), r.get("href")) for r in manifest_root.iter(f"{cp}resource")]
        assert resources[1:] == [
            ("imsqti_item_xmlv3p0", "items/q-unique.xml"),
            ("imsqti_item_xmlv3p0", "items/q-multiple.xml"),
            ("imsqti_item_xmlv3p0", "items/q-vrai-faux.xml"),
            ("imsqti_item_xmlv3p0", "items/q-nombre.xml"),
        ]
        assert resources[0] == ("imsqti_test_xmlv3p0", "test.xml")

    def test_choice_item(self, archive):
        item = fromstring(archive.read("items/q-multiple.xml"))
        assert item.tag == f"{QTI3}qti-assessment-item"
        declaration = item.find(f"{QTI3}qti-response-declaration")
        assert (declaration.get("cardinality"), declaration.get("base-type")) == (
            "multiple",
            "identifier",
        )
        assert [v.text for v in declaration.iter(f"{QTI3}qti-value")] == ["a", "b", "d"]
        entries = {
            e.get("map-key"): e.get("mapped-value")
            for e in declaration.iter(f"{QTI3}qti-map-entry")
        }
        assert entries == {"a": "0.333334", "b": "0.333334", "c": "-0.333334", "d": "0.333334"}
        interaction = item.find(f"{QTI3}qti-item-body/{QTI3}qti-choice-interaction")
        assert interaction.get("max-choices") == "0"
        assert len(interaction.findall(f"{QTI3}qti-simple-choice")) == 4
        assert item.find(f".//{QTI3}qti-map-response") is not None

    def test_numeric_item(self, archive):
        item = fromstring(archive.read("items/q-nombre.xml"))
        declaration = item.find(f"{QTI3}qti-response-declaration")
        assert declaration.get("base-type") == "float"
        assert declaration.find(f".//{QTI3}qti-value").text == "17.2"
        assert item.find(f".//{QTI3}qti-text-entry-interaction") is not None
        equal = item.find(f".//{QTI3}qti-equal")
        assert (equal.get("tolerance-mode"), equal.get("tolerance")) == ("absolute", "0.05")

    def test_round_trip_keeps_the_questions(self, archive):
        original = parse(ROUND_TRIP_BANK)
        data = export_qti3(original).data
        result = import_qti(data, filename="x.zip", today=TODAY, expected="qti3")
        back = BankDocument.model_validate(result.bank)
        assert result.skipped == []
        assert back.topics == original.topics
        fields = {"id", "type", "topic", "options", "answer"}
        for before, after in zip(original.questions, back.questions, strict=True):
            assert after.model_dump(include=fields) == before.model_dump(include=fields)
            # HTML knows no final newline: the Markdown comes back without it.
            assert after.stem == before.stem.rstrip("\n")
            assert after.explanation == before.explanation.rstrip("\n")
        numeric = back.question("q-nombre")
        assert (numeric.tolerance, numeric.unit) == (Decimal("0.05"), "%")
