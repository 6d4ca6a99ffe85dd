"""GIFT import and export, against Moodle's own fixtures. No database."""

from decimal import Decimal

import pytest

from app.banks.format import BankDocument
from app.banks.interchange.common import PLACEHOLDER_EXPLANATION, ConversionError, Skipped
from app.banks.interchange.gift import escape, export_gift, import_gift, unescape
from tests.banks.interchange import ROUND_TRIP_BANK, TODAY, fixture, parse


def gift(text: str, **kwargs):
    return import_gift(text.encode(), filename="essai.gift.txt", today=TODAY, **kwargs)


def by_id(result) -> dict:
    return {q["id"]: q for q in result.bank["questions"]}


def key(question) -> list[tuple[str, bool]]:
    return [(o["text"], o["correct"]) for o in question["options"]]


@pytest.fixture(scope="module")
def questions_gift():
    return import_gift(fixture("gift/questions.gift.txt"), filename="q.gift.txt", today=TODAY)


@pytest.fixture(scope="module")
def category_gift():
    data = fixture("gift/questions_in_category.gift.txt")
    return import_gift(data, filename="cat.gift.txt", today=TODAY)


class TestMoodleFixture:
    @pytest.fixture
    def result(self, questions_gift):
        return questions_gift

    def test_every_question_is_imported_or_reported(self, result):
        assert [q["id"] for q in result.bank["questions"]] == [
            "q2",
            "colours",
            "q5",
            "q1",
            "2-08-tsl",
            "2-08-tsl-2",
        ]
        assert [(s.name, s.type) for s in result.skipped] == [
            ("Q8", "essay"),
            ("Moodle activities", "match"),
            ("Shortanswer", "shortanswer"),
        ]
        assert len(result.bank["questions"]) + len(result.skipped) == 9
        assert all(s.reason for s in result.skipped)
        assert str(result.skipped[0]).startswith("question ignorée : Q8 (essay) : ")

    def test_single_choice_with_its_key(self, result):
        q2 = by_id(result)["q2"]
        assert q2["type"] == "single_choice"
        assert q2["stem"] == "What's between orange and green in the spectrum?"
        assert key(q2) == [("yellow", True), ("red", False), ("blue", False)]

    def test_multiple_answer_fractions(self, result):
        colours = by_id(result)["colours"]
        assert colours["type"] == "multiple_choice"
        assert key(colours) == [
            ("yellow", True),
            ("red", False),
            ("off-beige", True),
            ("blue", False),
        ]
        # 50 / 50 / -100 / -100: the bank's all-or-nothing rule, no approximation.
        assert result.bank["partial_credit"] is False

    def test_numerical_with_tolerance(self, result):
        q5 = by_id(result)["q5"]
        assert (q5["type"], q5["answer"], q5["tolerance"]) == ("numeric", "3", "2")
        assert q5["stem"] == "What is a number from 1 to 5?"

    def test_true_false_and_general_feedback(self, result):
        questions = by_id(result)
        q1 = questions["q1"]
        assert (q1["type"], q1["answer"]) == ("true_false", False)
        assert q1["explanation"] == (
            "This is, of course, a Hitchiker's Guide to the Galaxy reference."
        )
        assert questions["2-08-tsl"]["answer"] is True  # {T}
        assert questions["2-08-tsl-2"]["answer"] is True  # {TRUE}
        assert questions["2-08-tsl"]["stem"] == "TSL is blablabla."

    def test_stray_text_after_the_brace_is_reported(self, result):
        assert "question « Q5 » : texte « \"; » après l'accolade fermante ignoré" in (
            result.warnings
        )
        assert any(w.startswith("question « Q1 » : texte") for w in result.warnings)

    def test_placeholders_are_explicit_and_listed(self, result):
        bank = result.bank
        assert (bank["theme"], bank["competences"], bank["authors"]) == (
            "a-completer",
            ["À compléter"],
            ["À compléter"],
        )
        assert (bank["version"], bank["valid_from"]) == ("2026.1", "2026-03-01")
        assert all(q["difficulty"] == 2 and q["references"] == [] for q in bank["questions"])
        assert by_id(result)["q2"]["explanation"] == PLACEHOLDER_EXPLANATION
        assert any(
            "difficulté 2 attribuée par défaut à 6 question(s)" in w for w in result.warnings
        )
        assert any(
            "à rédiger pour 5 question(s)" in w and "q2, colours, q5" in w for w in result.warnings
        )
        assert any("en-tête à compléter" in w for w in result.warnings)
        assert any("retours par réponse non repris" in w for w in result.warnings)

    def test_result_is_a_bank_document_dump(self, result):
        document = BankDocument.model_validate(result.bank)
        assert document.model_dump(mode="json") == result.bank


class TestCategoryFixture:
    @pytest.fixture
    def result(self, category_gift):
        return category_gift

    def test_category_is_the_topic(self, result):
        assert result.bank["topics"] == {"default-for-new-features": "Default for New Features"}
        assert {q["topic"] for q in result.bank["questions"]} == {"default-for-new-features"}

    def test_escaped_html_decodes(self, result):
        greeting = by_id(result)["greeting"]
        assert greeting["stem"] == (
            "[Listen to this greeting:](http://demo.moodle.net/file.php/5/media/bonjour.mp3)"
            "\n\nWhat language is being spoken?"
        )
        assert key(greeting) == [
            ("English", False),
            ("French", True),
            ("German", False),
            ("Spanish", False),
        ]

    def test_unescape(self):
        assert (
            unescape('<a href\\="http\\://demo.moodle.net">') == '<a href="http://demo.moodle.net">'
        )
        assert unescape("a\\~b\\#c\\{d\\}e\\\\f\\ng\\x") == "a~b#c{d}e\\f\ng\\x"

    def test_other_questions(self, result):
        acronym = by_id(result)["moodle-acronym"]
        assert (acronym["type"], acronym["answer"]) == ("true_false", True)
        assert acronym["stem"] == (
            "Moodle is an acronym for Modular Object-Oriented Dynamic Learning Environment."
        )
        assert [(s.name, s.type) for s in result.skipped] == [
            ("Moodle activities", "match"),
            ("Moodle user", "shortanswer"),
        ]


def test_file_not_in_utf8_is_refused_naming_it():
    with pytest.raises(ConversionError) as caught:
        import_gift(
            fixture("gift/questions_encoding_windows-1252.gift.txt"),
            filename="questions_encoding_windows-1252.gift.txt",
        )
    assert str(caught.value) == (
        "questions_encoding_windows-1252.gift.txt: le fichier n'est pas encodé en UTF-8 "
        "(octet 0xF6 invalide, ligne 15) : enregistrez-le en UTF-8 puis recommencez"
    )


class TestGrammar:
    def test_text_formats(self):
        result = gift(
            "::h::[html]<p>Le <b>taux</b> &amp; la <i>base</i></p><script>x</script>{T}\n\n"
            "::p::[plain]2 * 3 = [six]{F}\n\n"
            "::m::[markdown]Un **gras**\\n\\n- et une liste{T}\n\n"
            "::auto::Ligne 1\nLigne 2{T}\n"
        )
        stems = {q["id"]: q["stem"] for q in result.bank["questions"]}
        assert stems == {
            "h": "Le **taux** & la *base*",
            "p": "2 \\* 3 = \\[six\\]",
            "m": "Un **gras**\n\n- et une liste",
            "auto": "Ligne 1\\\nLigne 2",
        }

    def test_fractions_that_are_not_all_or_nothing_set_partial_credit(self):
        result = gift("::m::Lesquels ?{~%50%a ~%25%b ~%25%c ~%-50%d}")
        assert key(result.bank["questions"][0]) == [
            ("a", True),
            ("b", True),
            ("c", True),
            ("d", False),
        ]
        assert result.bank["partial_credit"] is True
        assert any("fractions 50 %, 25 %, 25 %, -50 % approchées" in w for w in result.warnings)

    def test_single_answer_with_partial_credit_is_approximated(self):
        result = gift("::s::Lequel ?{=a ~%50%b ~c}")
        question = result.bank["questions"][0]
        assert question["type"] == "single_choice"
        assert key(question) == [("a", True), ("b", False), ("c", False)]
        assert any("réponses partiellement justes deviennent fausses" in w for w in result.warnings)

    def test_numeric_range_and_alternatives(self):
        result = gift(
            "::r::Un nombre de 1 à 5 ?{#1..5}\n\n"
            "::e::Exact ?{#-2.5}\n\n"
            "::a::Année ?{#=2000:0 =%50%1999:1}"
        )
        values = {q["id"]: (q["answer"], q["tolerance"]) for q in result.bank["questions"]}
        assert values == {"r": ("3", "2"), "e": ("-2.5", "0"), "a": ("2000", "0")}
        assert any("question « a » : seule la première réponse" in w for w in result.warnings)

    def test_unrepresentable_questions_are_reported(self):
        result = gift(
            "Un texte seul, sans question.\n\n"
            "::mot::Moodle coûte {~cher =rien} à installer.\n\n"
            "::court::Capitale ?{=Paris =%50%paris}\n\n"
            "::app::Associez.{=a -> 1 =b -> 2}\n\n"
            "::ok::Vrai ?{T}"
        )
        assert [(s.name, s.type) for s in result.skipped] == [
            ("Un texte seul, sans question.", "description"),
            ("mot", "missingword"),
            ("court", "shortanswer"),
            ("app", "match"),
        ]
        assert [q["id"] for q in result.bank["questions"]] == ["ok"]

    def test_unbalanced_braces_are_reported(self):
        result = gift("::cassee::Combien ?{#3\n\n::ok::Vrai ?{T}")
        assert result.skipped == [
            Skipped("cassee", "inconnu", "syntaxe GIFT invalide : accolades { } non appariées")
        ]

    def test_too_many_options_are_reported(self):
        answers = " ".join(f"~o{n}" for n in range(9))
        result = gift(f"::neuf::Laquelle ?{{=juste {answers}}}")
        assert result.skipped == [
            Skipped("neuf", "multichoice", "10 réponses : la banque en veut de 2 à 8")
        ]

    def test_comments_and_duplicate_names(self):
        result = gift("// un commentaire\n::Même nom::Un ?{T}\n\n::Même nom::Deux ?{F}")
        assert [q["id"] for q in result.bank["questions"]] == ["meme-nom", "meme-nom-2"]


class TestExport:
    def test_export_writes_markdown_with_escapes(self):
        text = export_gift(parse(ROUND_TRIP_BANK)).data.decode()
        assert "$CATEGORY: $course$/top/Banque aller-retour/Barème de l'impôt" in text
        assert (
            "::q-unique::[markdown]Un célibataire déclare **40 000 €** de revenu imposable\\n"
            "(revenus 2025).\\n\\nQuelle est sa *tranche marginale* ? Indices \\: \\{a\\} \\~ b "
            "\\= c \\# d \\\\ e\\n{"
        ) in text
        assert "=30 %\n" in text and "~41 % \\: taux supérieur\n" in text
        assert "~%33.33333%Livret A\n~%33.33333%LDDS\n~%-100%[markdown][Compte courant]" in text
        assert "FALSE\n####Il l'est" in text
        assert "#17.2:0.05\n" in text

    def test_escape_is_undone_by_unescape(self):
        text = "a: {b} ~c =d #e \\f\nligne"
        assert "\n" not in escape(text)
        assert unescape(escape(text)) == text

    def test_round_trip_keeps_the_questions(self):
        original = parse(ROUND_TRIP_BANK)
        result = import_gift(export_gift(original).data, filename="x.gift.txt", today=TODAY)
        back = BankDocument.model_validate(result.bank)
        assert result.skipped == []
        for before, after in zip(original.questions, back.questions, strict=True):
            assert (after.id, after.type, after.stem, after.explanation) == (
                before.id,
                before.type,
                before.stem,
                before.explanation,
            )
            assert getattr(after, "options", None) == getattr(before, "options", None)
            assert getattr(after, "answer", None) == getattr(before, "answer", None)
        assert back.question("q-nombre").tolerance == Decimal("0.05")
        assert back.topics == {
            "bareme-de-l-impot": "Barème de l'impôt",
            "epargne-reglementee": "Épargne réglementée",
        }
