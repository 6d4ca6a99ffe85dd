"""The bank file format: exact errors with their lines, canonical content. No database."""

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from app.banks.diff import diff_documents, format_diff
from app.banks.format import (
    BankFileError,
    ThemeCatalog,
    parse_bank_bytes,
    parse_bank_file,
    version_key,
)
from app.referential.model import default_referential
from tests.banks.samples import VALID_BANK

CATALOG = ThemeCatalog.from_referential(default_referential())
MAX = 100_000


def parse(text: str, *, max_bytes: int = MAX):
    return parse_bank_bytes(text.encode(), filename="b.yaml", catalog=CATALOG, max_bytes=max_bytes)


def errors(text: str | bytes, *, max_bytes: int = MAX) -> list[str]:
    data = text if isinstance(text, bytes) else text.encode()
    with pytest.raises(BankFileError) as caught:
        parse_bank_bytes(data, filename="b.yaml", catalog=CATALOG, max_bytes=max_bytes)
    return [str(issue) for issue in caught.value.issues]


def edit(old: str, new: str, text: str = VALID_BANK) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


class TestValidBank:
    def test_parses_every_question_type(self):
        bank = parse(VALID_BANK)
        assert (bank.id, bank.version, bank.theme, bank.competences) == (
            "essai",
            "2026.1",
            "fiscalite",
            ("C9",),
        )
        assert [q.type for q in bank.questions] == [
            "single_choice",
            "multiple_choice",
            "true_false",
            "numeric",
        ]
        assert bank.questions[0].correct_option_ids == ("a",)
        assert bank.questions[1].correct_option_ids == ("a", "b")
        assert bank.questions[2].answer is True

    def test_decimals_are_exact_and_canonical(self):
        numeric = parse(VALID_BANK).question("q-nombre")
        assert numeric.answer == Decimal("17.2") and str(numeric.answer) == "17.2"
        assert numeric.tolerance == Decimal("0")

    def test_question_defaults_come_from_the_bank(self):
        bank = parse(VALID_BANK)
        first, last = bank.question("q-choix"), bank.question("q-nombre")
        assert first.competences == ("C9",)
        assert (first.valid_from, first.valid_until) == (date(2026, 1, 1), date(2026, 12, 31))
        assert last.valid_until == date(2026, 6, 30)

    def test_content_hash_ignores_layout_but_not_content(self):
        bank = parse(VALID_BANK)
        relaid = parse("# commentaire\n" + edit("answer: 17.20", "answer: 17.2000"))
        assert relaid.content_sha256() == bank.content_sha256()
        assert len(bank.content_sha256()) == 64
        changed = parse(edit("answer: 17.20", "answer: 17.3"))
        assert changed.content_sha256() != bank.content_sha256()

    def test_utf8_bom_is_accepted(self):
        data = b"\xef\xbb\xbf" + VALID_BANK.encode()
        bank = parse_bank_bytes(data, filename="b.yaml", catalog=CATALOG, max_bytes=MAX)
        assert bank.id == "essai"

    def test_calendar_versions_sort_numerically(self):
        assert sorted(["2026.10", "2026.9", "2025.3"], key=version_key) == [
            "2025.3",
            "2026.9",
            "2026.10",
        ]


class TestErrorsWithLines:
    def test_unknown_key(self):
        assert errors(edit("    difficulty: 2\n", "    difficulty: 2\n    colour: red\n")) == [
            "b.yaml:36: question « q-multiple » › colour : clé inconnue « colour »"
        ]

    def test_duplicate_question_id(self):
        assert errors(edit("id: q-multiple", "id: q-choix")) == [
            "b.yaml:32: question « q-choix » › id : identifiant de question « q-choix » en double "
            "(déjà utilisé ligne 17)"
        ]

    def test_no_correct_option(self):
        assert errors(edit("        correct: true\n", "")) == [
            "b.yaml:22: question « q-choix » › options : aucune option correcte : "
            "marquez la bonne réponse avec « correct: true »"
        ]

    def test_single_choice_with_two_correct(self):
        assert errors(
            edit("        text: 30 %\n", "        text: 30 %\n        correct: true\n")
        ) == [
            "b.yaml:22: question « q-choix » › options : choix unique avec 2 options correctes "
            "(a, b) : une seule est permise (ou utilisez « multiple_choice »)"
        ]

    def test_numeric_without_tolerance(self):
        assert errors(edit("    tolerance: 0\n", "")) == [
            "b.yaml:49: question « q-nombre » : clé obligatoire manquante « tolerance »"
        ]

    def test_unknown_competence(self):
        assert errors(edit("competences: [C9]", "competences: [C9, C99]")) == [
            "b.yaml:4: competences[2] : compétence « C99 » absente du référentiel"
        ]

    def test_competence_outside_the_theme(self):
        assert errors(edit("competences: [C9]", "competences: [C22]")) == [
            "b.yaml:4: competences[1] : la compétence C22 n'est pas évaluée par le questionnaire "
            "« fiscalite » (il évalue : C9)"
        ]

    def test_valid_until_before_valid_from(self):
        assert errors(edit("    valid_until: 2026-06-30", "    valid_until: 2025-06-30")) == [
            "b.yaml:58: question « q-nombre » › valid_until : date 2025-06-30 antérieure à "
            "valid_from (2026-01-01)"
        ]

    def test_yaml_syntax_error(self):
        assert errors(
            edit(
                "    difficulty: 1\n",
                "    difficulty: [1\n",
            )
        ) == [
            "b.yaml:21: syntaxe YAML invalide : did not find expected ',' or ']' "
            "(while parsing a flow sequence, ligne 20)"
        ]

    def test_duplicate_yaml_key(self):
        assert errors(edit("title: Banque d'essai\n", "title: Banque d'essai\ntitle: Autre\n")) == [
            "b.yaml:3: clé « title » en double (déjà définie ligne 2)"
        ]

    def test_not_utf8(self):
        data = VALID_BANK.replace("Équipe", "\xc9quipe").encode("latin-1")
        assert errors(data) == [
            "b.yaml:8: le fichier n'est pas encodé en UTF-8 (octet 0xC9 invalide) : "
            "enregistrez-le en UTF-8"
        ]

    @pytest.mark.parametrize("content", ["", "   \n\n", "# rien\n"])
    def test_empty_file(self, content):
        expected = (
            ["b.yaml:1: fichier vide : aucune banque à lire"]
            if not content.strip()
            else ["b.yaml:1: document YAML vide"]
        )
        assert errors(content) == expected

    def test_too_large(self):
        assert errors(VALID_BANK, max_bytes=100) == [
            f"b.yaml:1: fichier trop volumineux : {len(VALID_BANK.encode())} octets, maximum 100 "
            "octets (réglable par CCPQ_BANK_MAX_BYTES)"
        ]

    def test_huge_file_is_not_read(self, tmp_path):
        path = tmp_path / "enorme.yaml"
        with path.open("wb") as handle:
            handle.truncate(50 * 1024 * 1024)
        with pytest.raises(BankFileError) as caught:
            parse_bank_file(path, catalog=CATALOG, max_bytes=2 * 1024 * 1024)
        assert [str(i) for i in caught.value.issues] == [
            f"{path}:1: fichier trop volumineux : 52428800 octets, maximum 2097152 octets "
            "(réglable par CCPQ_BANK_MAX_BYTES)"
        ]

    def test_not_a_mapping(self):
        assert errors("- a\n- b\n") == [
            "b.yaml:1: le document doit être un dictionnaire de clés (id, title…)"
        ]

    def test_unknown_question_type(self):
        assert errors(edit("type: true_false", "type: essay")) == [
            "b.yaml:43: question « q-vrai-faux » › type : type de question inconnu « essay » "
            "(attendu : single_choice, multiple_choice, true_false, numeric)"
        ]

    def test_alias_bomb_is_refused(self):
        bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
            f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
            f"*{chr(97 + i)}, *{chr(97 + i)}]\n"
            for i in range(6)
        )
        assert errors(bomb) == [
            "b.yaml:1: document trop volumineux : plus de 200000 éléments (alias imbriqués ?)"
        ]

    def test_every_error_is_reported_at_once(self):
        broken = edit("competences: [C9]", "competences: [C99]")
        broken = edit("id: q-multiple", "id: q-choix", broken)
        broken = edit("    tolerance: 0\n", "", broken)
        broken = edit("    difficulty: 3\n", "    difficulty: 4\n", broken)
        assert errors(broken) == [
            "b.yaml:4: competences[1] : compétence « C99 » absente du référentiel",
            "b.yaml:32: question « q-choix » › id : identifiant de question « q-choix » en double "
            "(déjà utilisé ligne 17)",
            "b.yaml:49: question « q-nombre » : clé obligatoire manquante « tolerance »",
            "b.yaml:52: question « q-nombre » › difficulty : doit être inférieur ou égal à 3 "
            "(trouvé « 4 »)",
        ]

    def test_file_name_is_in_every_message(self, tmp_path):
        path = tmp_path / "fiscalite.yaml"
        path.write_text(edit("difficulty: 1", "difficulty: trois"), encoding="utf-8")
        with pytest.raises(BankFileError) as caught:
            parse_bank_file(path, catalog=CATALOG, max_bytes=MAX)
        assert str(caught.value) == (
            f"{path}:20: question « q-choix » › difficulty : doit être un nombre entier "
            "(trouvé « trois »)"
        )


class TestDiff:
    def test_added_removed_changed(self):
        old = parse(VALID_BANK)
        text = edit('version: "2026.1"', 'version: "2026.2"')
        text = edit(
            '  - version: "2026.1"',
            '  - version: "2026.2"\n    date: 2026-03-01\n'
            '    summary: Correction.\n  - version: "2026.1"',
            text,
        )
        text = edit("Le barème est progressif.", "Le barème de l'IR est progressif.", text)
        text = edit("  - id: q-nombre", "  - id: q-nouvelle", text)
        new = parse(text)
        diff = diff_documents(old, new)
        assert diff.added == ("q-nouvelle",)
        assert diff.removed == ("q-nombre",)
        assert [(c.question_id, c.fields) for c in diff.changed] == [("q-vrai-faux", ("stem",))]
        assert format_diff(diff) == [
            "Différences 2026.1 → 2026.2",
            "  + q-nouvelle (ajoutée)",
            "  - q-nombre (supprimée)",
            "  ~ q-vrai-faux (modifiée : stem)",
        ]

    def test_identical_content(self):
        bank = parse(VALID_BANK)
        assert format_diff(diff_documents(bank, bank)) == [
            "Différences 2026.1 → 2026.1",
            "  aucune différence de contenu",
        ]


def test_shipped_banks_are_valid():
    """Every bank in question_banks/ passes validation."""
    banks_dir = Path(__file__).resolve().parents[2] / "question_banks"
    files = sorted(banks_dir.glob("*.yaml"))
    assert [f.stem for f in files] == ["fiscalite", "reglementation", "rgpd", "risques"]
    themes = {parse_bank_file(f, catalog=CATALOG, max_bytes=2 * 1024 * 1024).theme for f in files}
    assert themes == {"fiscalite", "reglementation", "risques", "rgpd"}


def test_changelog_starts_with_the_version():
    text = edit('version: "2026.1"', 'version: "2026.2"')
    assert errors(text) == [
        "b.yaml:10: changelog[1] › version : la première entrée du journal des modifications "
        "(la plus récente) doit porter la version 2026.2, pas 2026.1"
    ]


def test_every_question_refused_is_not_also_an_empty_list():
    text = VALID_BANK.split("questions:\n")[0] + "questions:\n  - id: seule\n    type: numeric\n"
    assert errors(text) == [
        "b.yaml:17: question « seule » : clé obligatoire manquante « answer »",
        "b.yaml:17: question « seule » : clé obligatoire manquante « difficulty »",
        "b.yaml:17: question « seule » : clé obligatoire manquante « explanation »",
        "b.yaml:17: question « seule » : clé obligatoire manquante « stem »",
        "b.yaml:17: question « seule » : clé obligatoire manquante « tolerance »",
        "b.yaml:17: question « seule » : clé obligatoire manquante « topic »",
    ]


def test_readme_example_is_valid():
    """The complete example of question_banks/README.md validates as it stands."""
    readme = Path(__file__).resolve().parents[2] / "question_banks" / "README.md"
    example = readme.read_text(encoding="utf-8").split("```yaml\n", 1)[1].split("```", 1)[0]
    bank = parse(example)
    assert {q.type for q in bank.questions} == {
        "single_choice",
        "multiple_choice",
        "true_false",
        "numeric",
    }


BLUEPRINT = """\
blueprint:
  title: Questionnaire d'essai
  item_count: 3
  duration_minutes: 20
  quotas:
    bareme: 2
    epargne: 1
"""


def with_blueprint(blueprint: str = BLUEPRINT) -> str:
    return edit("questions:\n", blueprint + "questions:\n")


class TestBlueprint:
    def test_defaults(self):
        blueprint = parse(with_blueprint()).blueprint
        assert (blueprint.item_count, blueprint.duration_minutes) == (3, 20)
        assert (blueprint.shuffle_questions, blueprint.shuffle_options) == (True, True)
        assert (blueprint.review, blueprint.review_from) == ("correction", "session_close")
        assert blueprint.quotas == {"bareme": 2, "epargne": 1}

    def test_blueprint_is_optional(self):
        assert parse(VALID_BANK).blueprint is None

    def test_quotas_must_add_up(self):
        assert errors(with_blueprint(BLUEPRINT.replace("item_count: 3", "item_count: 4"))) == [
            "b.yaml:18: blueprint › item_count : item_count vaut 4 mais la somme des quotas vaut 3"
        ]

    def test_quota_beyond_the_topic(self):
        text = with_blueprint(
            BLUEPRINT.replace("item_count: 3", "item_count: 4").replace("bareme: 2", "bareme: 3")
        )
        assert errors(text) == [
            "b.yaml:21: blueprint › quotas › bareme : 3 questions à tirer du sujet « bareme », "
            "qui n'en compte que 2"
        ]

    def test_undeclared_topic_and_bad_review(self):
        text = with_blueprint(
            BLUEPRINT.replace("epargne: 1", "impots: 1").replace(
                "  quotas:", "  review: tout\n  quotas:"
            )
        )
        assert errors(text) == [
            "b.yaml:20: blueprint › review : valeur invalide « tout » (attendu : 'score', "
            "'topics' ou 'correction')",
            "b.yaml:23: blueprint › quotas › impots : sujet « impots » non déclaré dans « topics »",
        ]
