"""Moodle XML import and export, against Moodle's own fixtures. No database."""

import base64
from decimal import Decimal

import pytest

from app.banks.format import BankDocument
from app.banks.interchange.common import MAX_IMAGE_BYTES, ConversionError
from app.banks.interchange.moodlexml import export_moodlexml, import_moodlexml
from tests.banks.interchange import ROUND_TRIP_BANK, TODAY, fixture, parse


def moodle(body: str):
    data = f'<?xml version="1.0" encoding="UTF-8"?>\n<quiz>{body}</quiz>'.encode()
    return import_moodlexml(data, filename="essai.xml", today=TODAY)


def question(kind: str, name: str, inner: str, text: str = "Énoncé ?") -> str:
    return (
        f'<question type="{kind}"><name><text>{name}</text></name>'
        f'<questiontext format="html"><text><![CDATA[{text}]]></text></questiontext>'
        f"{inner}</question>"
    )


def answer(fraction: str, text: str, extra: str = "") -> str:
    return (
        f'<answer fraction="{fraction}" format="html"><text><![CDATA[{text}]]></text>{extra}'
        "</answer>"
    )


class TestTrueFalseFixture:
    @pytest.fixture
    def result(self):
        return import_moodlexml(fixture("moodlexml/truefalse.xml"), filename="tf.xml", today=TODAY)

    def test_two_questions_with_their_keys(self, result):
        questions = result.bank["questions"]
        assert [(q["id"], q["type"], q["answer"]) for q in questions] == [
            ("moodle-acronym-false", "true_false", False),
            ("moodle-acronym-true", "true_false", True),
        ]
        assert result.skipped == []

    def test_category_is_the_topic(self, result):
        assert result.bank["topics"] == {"truefalse": "TrueFalse"}
        assert {q["topic"] for q in result.bank["questions"]} == {"truefalse"}

    def test_images_are_kept_as_data_uris(self, result):
        first = result.bank["questions"][0]
        # The non-breaking space of the source is kept.
        assert first["stem"].startswith("Moodle\xa0![Moodle logo](data:image/jpeg;base64,/9j/4AAQ")
        assert first["stem"].endswith(
            ") is an acronym for Modular Object-Oriented Dynamic Learning Education."
        )
        assert first["explanation"].startswith("![Informations](data:image/jpeg;base64,")
        assert (
            "[documentation about Moodle](http://docs.moodle.org/en/About_Moodle)"
            in first["explanation"]
        )
        # The answers' own feedback (with its images) has no place in a bank: reported.
        assert (
            "question « Moodle acronym (False) » : retours par réponse non repris (la banque "
            "n'a qu'une explication par question)"
        ) in result.warnings

    def test_result_is_a_bank_document_dump(self, result):
        assert BankDocument.model_validate(result.bank).model_dump(mode="json") == result.bank


def test_invalid_grade_refuses_the_file_naming_the_question():
    with pytest.raises(ConversionError) as caught:
        import_moodlexml(fixture("moodlexml/error_invalid_grades.xml"), filename="grades.xml")
    message = str(caught.value)
    assert message.startswith(
        "grades.xml: question « Question with invalid grades : x > 1 & x < 2 » : "
        "fraction « 33 » invalide (Moodle n'accepte que 100, 90, 83.33333,"
    )
    assert message.endswith("et leurs négatifs) : fichier refusé")


class TestQuestionTypes:
    def test_multichoice_single_and_multiple(self):
        result = moodle(
            '<question type="category"><category><text>$course$/top/Fiscalité/IR // IFI'
            "</text></category><idnumber>ir-ifi</idnumber></question>"
            + question(
                "multichoice",
                "Choix",
                "<single>true</single>" + answer("100", "<p>30 %</p>") + answer("0", "11 %"),
            )
            + question(
                "multichoice",
                "Plusieurs",
                "<single>false</single>"
                + answer("33.33333", "a")
                + answer("33.33333", "b")
                + answer("33.33333", "c")
                + answer("-100", "d"),
            )
        )
        single, multiple = result.bank["questions"]
        assert result.bank["topics"] == {"ir-ifi": "IR / IFI"}
        assert single["type"] == "single_choice"
        assert [(o["text"], o["correct"]) for o in single["options"]] == [
            ("30 %", True),
            ("11 %", False),
        ]
        assert multiple["type"] == "multiple_choice"
        assert [o["correct"] for o in multiple["options"]] == [True, True, True, False]
        assert result.bank["partial_credit"] is False

    def test_partial_fractions_set_partial_credit(self):
        result = moodle(
            question(
                "multichoice",
                "Partiel",
                "<single>false</single>"
                + answer("50", "a")
                + answer("50", "b")
                + answer("-50", "c"),
            )
        )
        assert result.bank["partial_credit"] is True
        assert any("approchées par le crédit partiel" in w for w in result.warnings)

    def test_numerical_with_tolerance_and_unit(self):
        result = moodle(
            question(
                "numerical",
                "Nombre",
                answer("100", "4600", "<tolerance>0.5</tolerance>")
                + answer("0", "*")
                + "<units><unit><multiplier>1</multiplier><unit_name>€</unit_name></unit>"
                "<unit><multiplier>0.001</multiplier><unit_name>k€</unit_name></unit></units>",
            )
        )
        numeric = result.bank["questions"][0]
        assert (numeric["answer"], numeric["tolerance"], numeric["unit"]) == ("4600", "0.5", "€")

    def test_unrepresentable_types_are_reported(self):
        result = moodle(
            question("shortanswer", "Courte", answer("100", "Paris"))
            + question("essay", "Rédaction", "")
            + question("matching", "Appariement", "")
            + question("multianswer", "Cloze", "")
            + question("description", "Texte", "")
            + question("ddwtos", "Glisser", "")
            + question("truefalse", "Vrai", answer("100", "true") + answer("0", "false"))
        )
        assert [(s.name, s.type) for s in result.skipped] == [
            ("Courte", "shortanswer"),
            ("Rédaction", "essay"),
            ("Appariement", "matching"),
            ("Cloze", "multianswer"),
            ("Texte", "description"),
            ("Glisser", "ddwtos"),
        ]
        assert result.skipped[3].reason.startswith("question à trous (cloze) : ")
        assert [q["id"] for q in result.bank["questions"]] == ["vrai"]

    def test_large_image_is_reported_not_embedded(self):
        big = base64.b64encode(b"\xff\xd8" + b"0" * MAX_IMAGE_BYTES).decode()
        result = moodle(
            '<question type="truefalse"><name><text>Image</text></name>'
            '<questiontext format="html"><text><![CDATA[<p>Voir '
            '<img src="@@PLUGINFILE@@/grande%20image.jpg" alt="Schéma"></p>]]></text>'
            f'<file name="grande image.jpg" path="/" encoding="base64">{big}</file>'
            "</questiontext>" + answer("100", "true") + answer("0", "false") + "</question>"
        )
        assert result.bank["questions"][0]["stem"] == "Voir (image non reprise : Schéma)"
        assert any(
            "image « grande image.jpg » trop volumineuse (200 ko" in w for w in result.warnings
        )

    def test_entities_are_refused(self):
        bomb = (
            b'<?xml version="1.0"?><!DOCTYPE quiz [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;">]><quiz>&b;</quiz>'
        )
        with pytest.raises(ConversionError, match="entités ou références externes interdites"):
            import_moodlexml(bomb, filename="bombe.xml")

    def test_not_a_quiz(self):
        with pytest.raises(ConversionError, match="pas un fichier Moodle XML"):
            import_moodlexml(b"<questions/>", filename="autre.xml")
        with pytest.raises(ConversionError, match="autre.xml: XML invalide ligne 1"):
            import_moodlexml(b"<quiz><question></quiz>", filename="autre.xml")


def test_round_trip_keeps_questions_topics_and_units():
    original = parse(ROUND_TRIP_BANK)
    exported = export_moodlexml(original)
    assert exported.data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<quiz>')
    assert b'<questiontext format="markdown">' in exported.data
    result = import_moodlexml(exported.data, filename="x.xml", today=TODAY)
    back = BankDocument.model_validate(result.bank)
    assert result.skipped == []
    assert back.topics == original.topics
    for before, after in zip(original.questions, back.questions, strict=True):
        assert after.model_dump(
            include={"id", "type", "topic", "stem", "explanation", "options", "answer"}
        ) == before.model_dump(
            include={"id", "type", "topic", "stem", "explanation", "options", "answer"}
        )
    numeric = back.question("q-nombre")
    assert (numeric.tolerance, numeric.unit) == (Decimal("0.05"), "%")
