"""YAML export in the shape of question_banks/ files: the content hash survives. No database."""

from pathlib import Path

import pytest

from app.banks.interchange.common import ConversionError
from app.banks.interchange.yamlio import dump_yaml, export_yaml, import_yaml
from tests.banks.interchange import CATALOG, ROUND_TRIP_BANK, parse
from tests.banks.samples import VALID_BANK

SHIPPED = sorted((Path(__file__).resolve().parents[3] / "question_banks").glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_banks_keep_their_content_hash(path):
    original = parse(path.read_bytes())
    exported = export_yaml(original.model_dump(mode="json")).data
    assert parse(exported).content_sha256() == original.content_sha256()


def test_layout_of_the_question_banks_files():
    text = dump_yaml(parse(VALID_BANK))
    assert text.splitlines()[1:10] == [
        "id: essai",
        "title: Banque d'essai",
        "theme: fiscalite",
        "competences: [C9]",
        'version: "2026.1"',
        "valid_from: 2026-01-01",
        "valid_until: 2026-12-31",
        "authors: [Équipe pédagogique]",
        "changelog:",
    ]
    assert (
        "questions:\n"
        "  - id: q-choix\n"
        "    type: single_choice\n"
        "    topic: bareme\n"
        "    difficulty: 1\n"
        "    stem: Quel est le taux de la première tranche imposée ?\n"
        "    options:\n"
        "      - id: a\n"
        "        text: 11 %\n"
        "        correct: true\n"
        "      - id: b\n"
        "        text: 30 %\n"
        "    explanation: La première tranche imposée l'est à 11 %.\n"
        "    references:\n"
        "      - label: CGI, art. 197\n"
        "        url: https://www.legifrance.gouv.fr/codes/article_lc/LEGIARTI000051212954\n"
        "\n"
        "  - id: q-multiple\n"
    ) in text
    # Defaults resolved from the bank are not repeated; a question's own validity is.
    assert '    answer: 17.2\n    tolerance: 0\n    unit: "%"\n' in text
    assert text.endswith("    explanation: Exactement 17,2 %.\n    valid_until: 2026-06-30\n")
    assert "competences: [C9]" not in text.split("questions:")[1]


def test_multi_line_markdown_is_a_block_scalar():
    text = dump_yaml(parse(ROUND_TRIP_BANK))
    assert (
        "    stem: |\n"
        "      Un célibataire déclare **40 000 €** de revenu imposable\n"
        "      (revenus 2025).\n"
        "\n"
        "      Quelle est sa *tranche marginale* ? Indices : {a} ~ b = c # d \\ e\n"
        "    options:\n"
    ) in text
    assert '        text: "41 % : taux supérieur"\n' in text
    assert parse(text).content_sha256() == parse(ROUND_TRIP_BANK).content_sha256()


@pytest.mark.parametrize(
    "stem",
    [
        "true",
        "2026-01-01",
        "12.5",
        "- une puce",
        "# pas un commentaire",
        "a: b",
        "fin de ligne #dièse",
        "  indentée\n  sur deux lignes\n",
        "sans fin de ligne\nsur deux lignes",
        "trois fins de ligne\n\n\n",
        "espaces en fin   \nde ligne\n",
        "tabulation\tet « guillemets » \"doubles\" et 'simples'",
        "caractère de contrôle \x07 et émoji 🎓",
        "null",
        "~",
        "@arobase",
        " espace initial",
    ],
)
def test_tricky_texts_survive(stem):
    bank = parse(VALID_BANK).model_dump(mode="json")
    bank["questions"][0]["stem"] = stem
    bank["questions"][0]["options"][1]["text"] = stem.strip() or "x"
    text = dump_yaml(bank)
    again = parse(text)
    assert again.questions[0].stem == stem
    assert again.content_sha256() == parse(dump_yaml(again)).content_sha256()


def test_long_one_line_text_is_folded_over_several_lines():
    bank = parse(VALID_BANK).model_dump(mode="json")
    summary = "Une entrée : " + "très longue phrase du journal " * 8 + "fin."
    bank["changelog"][0]["summary"] = summary
    text = dump_yaml(bank)
    assert all(len(line) <= 100 for line in text.splitlines())
    assert parse(text).changelog[0].summary == summary


def test_import_validates_the_bank():
    result = import_yaml(VALID_BANK.encode(), filename="b.yaml", catalog=CATALOG)
    assert result.bank == parse(VALID_BANK).model_dump(mode="json")
    assert (result.skipped, result.warnings) == ([], [])
    with pytest.raises(ConversionError) as caught:
        import_yaml(
            VALID_BANK.replace("[C9]", "[C99]").encode(), filename="b.yaml", catalog=CATALOG
        )
    assert str(caught.value) == (
        "b.yaml: banque invalide :\nb.yaml:4: competences[1] : compétence « C99 » absente du "
        "référentiel"
    )
    with pytest.raises(ConversionError, match=r"b.yaml: banque YAML illisible : ligne 2"):
        import_yaml(b"id: x\n  - y: [\n", filename="b.yaml")
