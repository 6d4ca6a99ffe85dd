"""``convert`` (format guessing, validation) and ``ccpq banks convert``."""

import io
import zipfile

import pytest

from app.banks.format import BankDocument
from app.banks.interchange import (
    ConversionError,
    convert,
    convert_report,
    detect_format,
    write_bank,
)
from tests.banks.interchange import FIXTURES, ROUND_TRIP_BANK, TODAY, fixture, parse


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("gift/questions.gift.txt", "gift"),
        ("moodlexml/truefalse.xml", "moodlexml"),
        ("qti21/choice.xml", "qti21"),
    ],
)
def test_detect_format_of_the_fixtures(name, expected):
    assert detect_format(fixture(name), name) == expected


def test_detect_format_of_exports():
    bank = parse(ROUND_TRIP_BANK)
    assert detect_format(write_bank(bank, "yaml").data, "banque.yaml") == "yaml"
    assert detect_format(write_bank(bank, "yaml").data, "sans-extension") == "yaml"
    assert detect_format(write_bank(bank, "gift").data, "sans-extension") == "gift"
    assert detect_format(write_bank(bank, "moodlexml").data, "x") == "moodlexml"
    package = write_bank(bank, "qti3").data
    assert detect_format(package, "x.zip") == "qti3"
    item = zipfile.ZipFile(io.BytesIO(package)).read("items/q-unique.xml")
    assert detect_format(item, "item.xml") == "qti3"
    with pytest.raises(ConversionError, match="XML non reconnu"):
        detect_format(b"<html/>", "page.xml")


def test_convert_validates_and_reports():
    data = fixture("gift/questions.gift.txt")
    report = convert_report(data, filename="q.gift.txt", target_format="yaml", today=TODAY)
    assert report.source_format == "gift"
    assert [s.name for s in report.skipped] == ["Q8", "Moodle activities", "Shortanswer"]
    assert isinstance(report.bank, BankDocument)
    assert report.data == convert(data, filename="q.gift.txt", target_format="yaml", today=TODAY)
    # The YAML export is a bank file: the placeholders are there to be reviewed.
    assert b"theme: a-completer\n" in report.data


def test_conversion_between_foreign_formats():
    data = convert(fixture("qti21/choice_multiple.xml"), filename="m.xml", target_format="gift")
    assert b"~%50%Hydrogen\n~%-50%Helium\n" in data  # partial credit kept as fractions


def test_refusals():
    with pytest.raises(ConversionError, match="format de sortie inconnu « pdf »"):
        convert(b"x", filename="a.gift", target_format="pdf")
    with pytest.raises(ConversionError, match="a.gift: fichier vide"):
        convert(b"  \n", filename="a.gift", target_format="yaml")
    with pytest.raises(ConversionError, match="aucune question convertible") as caught:
        convert(b"::essai::Parlez-moi de vous.{}", filename="a.gift", target_format="yaml")
    assert [s.type for s in caught.value.skipped] == ["essay"]


class TestCli:
    def test_gift_to_yaml(self, run, tmp_path):
        output = tmp_path / "importee.yaml"
        source = FIXTURES / "gift" / "questions.gift.txt"
        code, out, err = run("banks", "convert", str(source), "-o", str(output))
        assert code == 0
        lines = err.splitlines()
        assert [line for line in lines if line.startswith("question ignorée")] == [
            "question ignorée : Q8 (essay) : question à réponse rédigée : la banque ne connaît "
            "que le choix unique, le choix multiple, le vrai/faux et la réponse numérique",
            "question ignorée : Moodle activities (match) : question d'appariement : la banque "
            "ne connaît que le choix unique, le choix multiple, le vrai/faux et la réponse "
            "numérique",
            "question ignorée : Shortanswer (shortanswer) : question à réponse courte : la "
            "banque ne connaît que le choix unique, le choix multiple, le vrai/faux et la "
            "réponse numérique",
        ]
        assert any(line.startswith("avertissement : difficulté 2 attribuée") for line in lines)
        assert any(
            line.startswith("à corriger avant l'import : ")
            and "thème inconnu « a-completer »" in line
            for line in lines
        )
        assert out == (
            f"{source} (gift) → {output} (yaml) : 6 question(s) convertie(s), 3 ignorée(s), "
            f"{sum(line.startswith('avertissement') for line in lines)} avertissement(s)\n"
        )
        written = BankDocument.model_validate(parse_yaml(output.read_bytes()))
        assert [q.id for q in written.questions][:2] == ["q2", "colours"]

    def test_not_utf8_is_refused(self, run, tmp_path):
        source = FIXTURES / "gift" / "questions_encoding_windows-1252.gift.txt"
        output = tmp_path / "x.yaml"
        code, out, err = run("banks", "convert", str(source), "-o", str(output), "--from", "gift")
        assert (code, out) == (1, "")
        assert err == (
            f"Erreur : {source}: le fichier n'est pas encodé en UTF-8 (octet 0xF6 invalide, "
            "ligne 15) : enregistrez-le en UTF-8 puis recommencez\n"
        )
        assert not output.exists()

    def test_invalid_moodle_grades_are_refused(self, run, tmp_path):
        source = FIXTURES / "moodlexml" / "error_invalid_grades.xml"
        code, _, err = run("banks", "convert", str(source), "-o", str(tmp_path / "x.gift"))
        assert code == 1
        assert "question « Question with invalid grades : x > 1 & x < 2 »" in err

    def test_yaml_to_qti_package(self, run, tmp_path):
        source = tmp_path / "banque.yaml"
        source.write_text(ROUND_TRIP_BANK, encoding="utf-8")
        output = tmp_path / "banque.zip"
        code, out, _ = run("banks", "convert", str(source), "-o", str(output))
        assert code == 0
        assert "(yaml) →" in out and "(qti3) : 4 question(s) convertie(s), 0 ignorée(s)" in out
        assert "imsmanifest.xml" in zipfile.ZipFile(output).namelist()

    def test_bad_arguments(self, run, tmp_path):
        code, _, err = run("banks", "convert", str(tmp_path / "absent.gift"), "-o", "x.yaml")
        assert (code, err) == (1, f"Erreur : {tmp_path / 'absent.gift'}: fichier introuvable\n")
        source = FIXTURES / "gift" / "questions.gift.txt"
        code, _, err = run("banks", "convert", str(source), "-o", str(tmp_path / "x.pdf"))
        assert code == 1 and "format de sortie à préciser avec --to" in err
        code, _, err = run(
            "banks", "convert", str(source), "-o", str(tmp_path / "x.yaml"), "--from", "qti3"
        )
        assert code == 1 and "Erreur : " in err


def parse_yaml(data: bytes) -> dict:
    from app.yamlmarks import load_marked

    return load_marked(data.decode()).data
