"""The referential data file, its loader, and proof that the file matches the seed text."""

from __future__ import annotations

import ast
import hashlib
import io
import os
import re
import tokenize
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from app.referential.model import (
    DEFAULT_PATH,
    Questionnaire,
    Referential,
    ReferentialError,
    default_referential,
    load_referential,
)

SEED_NAME = "000_680993158fc6d417.txt"
APP_DIR = Path(__file__).resolve().parents[2] / "app"

CODES = tuple(f"C{n}" for n in range(1, 23))
BLOC_CODES = {1: CODES[0:6], 2: CODES[6:16], 3: CODES[16:22]}
ACTIVITY_CODES = tuple(f"A{n}" for n in range(1, 12))
THREE = ("mise_en_situation", "livrables", "soutenance")

# Modality labels as the seed writes them in the "modalités" column.
SEED_LABELS = {
    "mise_en_situation": "Mise en situation professionnelle",
    "livrables": "Rendu de livrables professionnels",
    "soutenance": "Soutenance orale devant jury",
}

HEADER_RE = re.compile(r"^(C\d+) \((B\d\.\d+)\) ")
BLOC_RE = re.compile(r"^\s*BLOC n°(\d+)")
ACTIVITY_RE = re.compile(r"^\s*A\.?(\d+)\.?\s")
BULLET_RE = re.compile(r"^-\s*(.*)$")
TASK_RE = re.compile(r"^ (\S.*)$")
SIXTY_RE = re.compile(r"^(\d+) ?% de bonnes réponses au questionnaire\.")
END_MARKER = "Les modalités d’évaluation peuvent"


def normalise(text: str) -> str:
    """Collapse whitespace and rejoin PDF line-break hyphenation ("rendez- vous")."""
    return re.sub(r"(\w)- (\w)", r"\1-\2", " ".join(text.split()))


# --------------------------------------------------------------------------- fixtures


# The referential's source text, copied unchanged from shared/seeds/ so that the suite
# runs from any checkout; its digest pins the copy.
VENDORED_SEED = Path(__file__).resolve().parent / "seed" / SEED_NAME
SEED_SHA256 = "bef036538ec3deb904a61341fbcfafc8b8f5ef4109bc83149c1878b5b871f852"


def shared_seed_path() -> Path:
    shared = os.environ.get("CCPQ_SHARED_DIR")
    base = Path(shared) if shared else Path(__file__).resolve().parents[3] / "shared"
    return base / "seeds" / SEED_NAME


def seed_path() -> Path:
    return VENDORED_SEED


def test_vendored_seed_is_the_official_text():
    data = VENDORED_SEED.read_bytes()
    assert hashlib.sha256(data).hexdigest() == SEED_SHA256
    shared = shared_seed_path()
    if shared.is_file():  # beside a checkout of the project, shared/ holds the original
        assert shared.read_bytes() == data


@pytest.fixture(scope="module")
def seed_lines() -> list[str]:
    path = seed_path()
    if not path.is_file():
        pytest.fail(f"seed introuvable : {path} (définir CCPQ_SHARED_DIR)")
    return path.read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def seed(seed_lines: list[str]) -> str:
    return normalise("\n".join(seed_lines))


@pytest.fixture(scope="module")
def ref() -> Referential:
    return default_referential()


@pytest.fixture(scope="module")
def headers(seed_lines: list[str]) -> list[tuple[int, str, str]]:
    """(line index, code, ref) of every competence heading, in order of appearance."""
    found = []
    for i, line in enumerate(seed_lines):
        m = HEADER_RE.match(line)
        if m:
            found.append((i, m.group(1), m.group(2)))
    return found


@pytest.fixture(scope="module")
def segments(seed_lines: list[str], headers: list[tuple[int, str, str]]) -> dict[str, list[str]]:
    """Raw seed lines from each competence heading to the next one (or the final note)."""
    end = next(i for i, line in enumerate(seed_lines) if line.strip().startswith(END_MARKER))
    bounds = [i for i, _, _ in headers] + [end]
    return {code: seed_lines[bounds[k] : bounds[k + 1]] for k, (_, code, _) in enumerate(headers)}


def split_segment(lines: list[str]) -> tuple[str, list[tuple[str, bool]]]:
    """(text before the first bullet, [(bullet text, is_followed_by_another_bullet)]).

    An empty "-" bullet yields "" (what follows it is page furniture, not a criterion).
    """
    before: list[str] = []
    bullets: list[list[str]] = []
    for line in lines:
        m = BULLET_RE.match(line)
        if m:
            bullets.append([m.group(1)])
        elif bullets:
            bullets[-1].append(line)
        else:
            before.append(line)
    chunks = [normalise("\n".join(b)) if b[0].strip() else "" for b in bullets]
    return normalise("\n".join(before)), [(c, k + 1 < len(chunks)) for k, c in enumerate(chunks)]


def seed_criteria(lines: list[str]) -> list[tuple[str, bool]]:
    """Criteria bullets of a segment: no empty "-" bullets, no "60 %" line."""
    _, chunks = split_segment(lines)
    return [(c, exact) for c, exact in chunks if c and not SIXTY_RE.match(c)]


def seed_threshold(lines: list[str]) -> Decimal | None:
    _, chunks = split_segment(lines)
    for chunk, _ in chunks:
        m = SIXTY_RE.match(chunk)
        if m:
            return Decimal(m.group(1))
    return None


def raw_data() -> dict[str, Any]:
    return yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))


def write(tmp_path: Path, data: dict[str, Any], name: str = "referentiel.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def line_of(path: Path, needle: str, occurrence: int = 1) -> int:
    hits = [i + 1 for i, line in enumerate(path.read_text().splitlines()) if needle in line]
    return hits[occurrence - 1]


def all_texts(ref: Referential) -> list[str]:
    texts = [ref.title, *(m.label for m in ref.modalities)]
    for bloc in ref.blocs:
        texts.append(bloc.title)
        for activity in bloc.activities:
            texts += [activity.title, *activity.tasks]
            for comp in activity.competences:
                texts += [comp.title, *comp.criteria]
    texts += [q.title for q in ref.questionnaires]
    rules = ref.rules
    texts += [rules.title_note, rules.partial_validation_note, rules.accommodation_note]
    return texts


# --------------------------------------------------------------------------- structure


class TestStructure:
    def test_identity(self, ref: Referential) -> None:
        assert ref.id == "ccp-n6"
        assert ref.title == "Chargé de clientèle particuliers – Niveau 6"
        assert ref.version == "1"

    def test_three_blocs_numbered_and_coded(self, ref: Referential) -> None:
        assert [(b.number, b.code) for b in ref.blocs] == [(1, "B1"), (2, "B2"), (3, "B3")]

    def test_eleven_activities_in_order(self, ref: Referential) -> None:
        codes = tuple(a.code for b in ref.blocs for a in b.activities)
        assert codes == ACTIVITY_CODES

    def test_activities_per_bloc(self, ref: Referential) -> None:
        per_bloc = {b.number: tuple(a.code for a in b.activities) for b in ref.blocs}
        assert per_bloc == {
            1: ("A1", "A2", "A3"),
            2: ("A4", "A5", "A6", "A7"),
            3: ("A8", "A9", "A10", "A11"),
        }

    def test_twenty_two_competences_in_order(self, ref: Referential) -> None:
        assert tuple(ref.competences) == CODES

    def test_bloc_membership(self, ref: Referential) -> None:
        assert {b.number: tuple(c.code for c in b.competences) for b in ref.blocs} == BLOC_CODES

    def test_refs_are_bloc_and_index(self, ref: Referential) -> None:
        for bloc in ref.blocs:
            refs = [c.ref for c in bloc.competences]
            assert refs == [f"B{bloc.number}.{i}" for i in range(1, len(refs) + 1)]

    def test_a6_is_one_activity_over_two_pages(self, ref: Referential) -> None:
        a6 = ref.blocs[1].activities[2]
        assert a6.code == "A6"
        assert a6.title == "Gestion de la relation-client"
        assert a6.tasks == (
            "Suivi des contrats",
            "Suivi des opérations",
            "Réalisation des points d’étapes",
            "Personnalisation",
            "Traitement des réclamations",
            "Fidélisation",
        )
        assert tuple(c.code for c in a6.competences) == ("C11", "C12", "C13", "C14", "C15")

    def test_a10_title(self, ref: Referential) -> None:
        a10 = ref.blocs[2].activities[2]
        assert (a10.code, a10.title) == (
            "A10",
            "Adaptation de la prospection aux normes règlementaires et législatives",
        )

    def test_own_modalities(self, ref: Referential) -> None:
        for code, comp in ref.competences.items():
            assert comp.modalities == (() if code == "C21" else THREE), code

    def test_modality_kinds(self, ref: Referential) -> None:
        assert [(m.id, m.label) for m in ref.modalities] == [
            ("mise_en_situation", "Mise en situation professionnelle"),
            ("livrables", "Rendu de livrables professionnels"),
            ("soutenance", "Soutenance orale devant jury"),
            ("questionnaire", "Questionnaire thématique"),
        ]

    def test_rules(self, ref: Referential) -> None:
        assert ref.rules.bloc_validation == "all_competences"
        assert ref.rules.title_requires == "all_blocs"
        assert ref.rules.competence_acquired_when == "all_modalities_passed"

    def test_texts_are_clean(self, ref: Referential) -> None:
        for text in all_texts(ref):
            assert text == " ".join(text.split()), repr(text)
            assert not re.search(r"\w- \w", text), repr(text)

    def test_no_questionnaire_rule_among_criteria(self, ref: Referential) -> None:
        for comp in ref.competences.values():
            assert not any("bonnes réponses" in c for c in comp.criteria), comp.code


# --------------------------------------------------------------------------- the seed


class TestMatchesSeed:
    def test_competence_headings_in_order(
        self, ref: Referential, headers: list[tuple[int, str, str]]
    ) -> None:
        assert [(code, r) for _, code, r in headers] == [
            (c.code, c.ref) for c in ref.competences.values()
        ]

    def test_each_competence_in_its_bloc_section(
        self, ref: Referential, seed_lines: list[str], headers: list[tuple[int, str, str]]
    ) -> None:
        for index, code, _ in headers:
            bloc = None
            for line in seed_lines[:index]:
                m = BLOC_RE.match(line)
                if m:
                    bloc = int(m.group(1))
            assert bloc == ref.bloc_of(code).number, code

    def test_header_and_title_in_seed(self, ref: Referential, seed: str) -> None:
        for comp in ref.competences.values():
            assert f"{comp.code} ({comp.ref}) {comp.title}" in seed, comp.code

    def test_every_criterion_in_seed(self, ref: Referential, seed: str) -> None:
        for comp in ref.competences.values():
            for criterion in comp.criteria:
                assert normalise(criterion) in seed, (comp.code, criterion)

    def test_criteria_are_the_seed_bullets(
        self, ref: Referential, segments: dict[str, list[str]]
    ) -> None:
        for code, comp in ref.competences.items():
            bullets = seed_criteria(segments[code])
            assert len(comp.criteria) == len(bullets), code
            for criterion, (bullet, exact) in zip(comp.criteria, bullets, strict=True):
                if exact:
                    assert criterion == bullet, code
                else:  # last bullet of a page: page furniture follows it
                    assert bullet.startswith(criterion), code

    def test_bloc_titles(self, ref: Referential, seed: str) -> None:
        for bloc in ref.blocs:
            assert f"BLOC n°{bloc.number} {bloc.title}" in seed
            assert f"{bloc.number}. {bloc.title}" in seed

    def test_activity_titles_and_tasks(
        self, ref: Referential, seed_lines: list[str], headers: list[tuple[int, str, str]]
    ) -> None:
        heading_lines = [i for i, line in enumerate(seed_lines) if ACTIVITY_RE.match(line)]
        found: dict[str, tuple[str, list[str]]] = {}
        for start in heading_lines:
            number = ACTIVITY_RE.match(seed_lines[start]).group(1)
            stop = next(i for i, _, _ in headers if i > start)
            heading = [seed_lines[start]]
            tasks: list[list[str]] = []
            for line in seed_lines[start + 1 : stop]:
                m = TASK_RE.match(line)
                if m:
                    tasks.append([m.group(1)])
                elif line.strip():
                    (tasks[-1] if tasks else heading).append(line)
            title, previous = found.get(f"A{number}", (None, []))
            found[f"A{number}"] = (
                title or normalise("\n".join(heading)),
                previous + [normalise("\n".join(t)) for t in tasks],
            )
        assert tuple(found) == ACTIVITY_CODES
        for bloc in ref.blocs:
            for activity in bloc.activities:
                heading, tasks = found[activity.code]
                number = activity.code[1:]
                assert re.match(rf"A\.?{number}\.? {re.escape(activity.title)}", heading), heading
                assert list(activity.tasks) == tasks, activity.code

    def test_referential_title(self, ref: Referential, seed_lines: list[str]) -> None:
        assert seed_lines[1].strip() == ref.title

    def test_rule_notes_verbatim(self, ref: Referential, seed: str) -> None:
        assert ref.rules.accommodation_note in seed
        assert ref.rules.accommodation_note.startswith(END_MARKER)
        assert ref.rules.title_note in seed
        assert ref.rules.partial_validation_note in seed

    def test_modalities_and_questionnaires_follow_the_table(
        self, ref: Referential, segments: dict[str, list[str]]
    ) -> None:
        # The seed's modality column is a merged cell: a competence without its own cell
        # shares the cell of the competence above it in the same activity.
        cell: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
        for bloc in ref.blocs:
            for activity in bloc.activities:
                cell = ((), ())
                for comp in activity.competences:
                    before, _ = split_segment(segments[comp.code])
                    own = tuple(m for m, label in SEED_LABELS.items() if label in before)
                    quizzes = tuple(
                        q.id
                        for q in ref.questionnaires
                        if (f"{q.code}. {q.title}" if q.code else q.title) in before
                    )
                    if own or quizzes:
                        cell = (own, quizzes)
                    assert cell != ((), ()), comp.code
                    assert comp.modalities == cell[0], comp.code
                    assert tuple(q.id for q in ref.questionnaires_for(comp.code)) == cell[1]

    def test_questionnaire_titles_in_seed(self, ref: Referential, seed: str) -> None:
        assert seed.count("Questionnaire thématique portant sur") == len(ref.questionnaires)
        for quiz in ref.questionnaires:
            assert quiz.title in seed, quiz.id
        assert "E3. Questionnaire thématique portant sur les directives AMF" in seed

    def test_sixty_percent_after_the_right_competences(
        self, ref: Referential, segments: dict[str, list[str]]
    ) -> None:
        thresholds = {code: seed_threshold(lines) for code, lines in segments.items()}
        with_threshold = {code for code, value in thresholds.items() if value is not None}
        assert with_threshold == {"C9", "C20", "C21", "C22"}
        for code in with_threshold:
            quizzes = ref.questionnaires_for(code)
            assert quizzes, code
            assert {q.pass_threshold_percent for q in quizzes} == {thresholds[code]}
        for quiz in ref.questionnaires:
            assert any(thresholds[c] == quiz.pass_threshold_percent for c in quiz.competences)


# --------------------------------------------------------------------------- questionnaires


class TestQuestionnaires:
    def test_links(self, ref: Referential) -> None:
        assert [(q.id, q.code, q.competences) for q in ref.questionnaires] == [
            ("fiscalite", None, ("C9",)),
            ("risques", None, ("C19", "C20")),
            ("reglementation", "E3", ("C21",)),
            ("rgpd", None, ("C22",)),
        ]

    def test_titles(self, ref: Referential) -> None:
        assert [q.title for q in ref.questionnaires] == [
            "Questionnaire thématique portant sur la réglementation fiscale",
            "Questionnaire thématique portant sur l’analyse et le traitement des risques",
            "Questionnaire thématique portant sur les directives AMF, le Code des Assurances "
            "et la Directive Crédit",
            "Questionnaire thématique portant sur le RGPD",
        ]

    def test_thresholds_are_exact_decimals(self, ref: Referential) -> None:
        for quiz in ref.questionnaires:
            assert isinstance(quiz.pass_threshold_percent, Decimal)
            assert quiz.pass_threshold_percent == Decimal(60)

    def test_questionnaire_lookup(self, ref: Referential) -> None:
        assert ref.questionnaire("reglementation").code == "E3"
        with pytest.raises(KeyError, match="inconnu"):
            ref.questionnaire("nope")

    def test_questionnaires_for(self, ref: Referential) -> None:
        assert ref.questionnaires_for("C20") == (ref.questionnaire("risques"),)
        assert ref.questionnaires_for("C1") == ()
        with pytest.raises(KeyError, match="C99"):
            ref.questionnaires_for("C99")

    def test_modalities_for(self, ref: Referential) -> None:
        assert ref.modalities_for("C21") == ("questionnaire:reglementation",)
        assert ref.modalities_for("C9") == (*THREE, "questionnaire:fiscalite")
        assert ref.modalities_for("C19") == (*THREE, "questionnaire:risques")
        assert ref.modalities_for("C20") == (*THREE, "questionnaire:risques")
        assert ref.modalities_for("C22") == (*THREE, "questionnaire:rgpd")
        assert ref.modalities_for("C1") == THREE
        with pytest.raises(KeyError, match="C99"):
            ref.modalities_for("C99")


# --------------------------------------------------------------------------- API


class TestApi:
    def test_bloc_of(self, ref: Referential) -> None:
        assert ref.bloc_of("C6").number == 1
        assert ref.bloc_of("C7").number == 2
        assert ref.bloc_of("C16").number == 2
        assert ref.bloc_of("C17").number == 3
        with pytest.raises(KeyError, match="C99"):
            ref.bloc_of("C99")

    def test_default_is_cached(self) -> None:
        assert default_referential() is default_referential()

    def test_load_default_path(self, ref: Referential) -> None:
        loaded = load_referential()
        assert loaded is not ref
        assert loaded == ref
        assert load_referential(DEFAULT_PATH) == ref

    def test_frozen(self, ref: Referential) -> None:
        with pytest.raises(ValidationError):
            ref.version = "2"  # type: ignore[misc]
        with pytest.raises(ValidationError):
            ref.questionnaires[0].pass_threshold_percent = Decimal(50)  # type: ignore[misc]

    def test_extra_field_forbidden(self) -> None:
        with pytest.raises(ValidationError):
            Questionnaire(id="q", title="t", competences=("X",), pass_threshold_percent=1, extra=1)


# --------------------------------------------------------------------------- validation


class TestValidation:
    def test_untouched_copy_loads(self, tmp_path: Path, ref: Referential) -> None:
        assert load_referential(write(tmp_path, raw_data())) == ref

    def test_unknown_questionnaire_competence(self, tmp_path: Path) -> None:
        data = raw_data()
        data["questionnaires"][1]["competences"] = ["C19", "C99"]
        path = write(tmp_path, data)
        with pytest.raises(ReferentialError) as err:
            load_referential(path)
        assert str(err.value) == (
            f"{path}:{line_of(path, '- C99')}: "
            "le questionnaire « risques » évalue une compétence inconnue : C99"
        )

    def test_duplicate_competence_code(self, tmp_path: Path) -> None:
        data = raw_data()
        data["blocs"][0]["activities"][0]["competences"][1]["code"] = "C1"
        path = write(tmp_path, data)
        with pytest.raises(ReferentialError) as err:
            load_referential(path)
        assert str(err.value) == (
            f"{path}:{line_of(path, 'code: C1', 2)}: code de compétence en double : C1"
        )

    def test_yaml_syntax_error_has_file_and_line(self, tmp_path: Path) -> None:
        path = tmp_path / "broken.yaml"
        path.write_text("id: ccp-n6\ntitle: Titre: bis\nversion: '1'\n", encoding="utf-8")
        with pytest.raises(ReferentialError) as err:
            load_referential(path)
        assert str(err.value) == (
            f"{path}:2: syntaxe YAML invalide : mapping values are not allowed in this context"
        )

    def test_duplicate_yaml_key(self, tmp_path: Path) -> None:
        path = tmp_path / "dup.yaml"
        path.write_text("id: a\nid: b\n", encoding="utf-8")
        with pytest.raises(ReferentialError) as err:
            load_referential(path)
        assert str(err.value) == f"{path}:2: clé « id » en double (déjà définie ligne 1)"

    def test_missing_file(self, tmp_path: Path) -> None:
        path = tmp_path / "absent.yaml"
        with pytest.raises(ReferentialError) as err:
            load_referential(path)
        assert str(err.value) == f"{path}: fichier introuvable"

    def test_not_a_mapping(self, tmp_path: Path) -> None:
        path = tmp_path / "list.yaml"
        path.write_text("- a\n- b\n", encoding="utf-8")
        with pytest.raises(ReferentialError) as err:
            load_referential(path)
        assert str(err.value) == f"{path}:1: le document doit être un dictionnaire YAML"

    def test_unknown_key_is_located(self, tmp_path: Path) -> None:
        data = raw_data()
        data["blocs"][0]["activities"][0]["competences"][0]["weight"] = 2
        path = write(tmp_path, data)
        with pytest.raises(ReferentialError) as err:
            load_referential(path)
        assert str(err.value) == (
            f"{path}:{line_of(path, 'weight: 2')}: "
            "blocs.0.activities.0.competences.0.weight : Extra inputs are not permitted"
        )

    def test_questionnaire_modality_not_in_competence_list(self, tmp_path: Path) -> None:
        data = raw_data()
        data["blocs"][0]["activities"][0]["competences"][0]["modalities"] = ["questionnaire"]
        path = write(tmp_path, data)
        with pytest.raises(ReferentialError, match="C1 ne peut pas citer la modalité"):
            load_referential(path)

    def test_unknown_modality(self, tmp_path: Path) -> None:
        data = raw_data()
        data["blocs"][0]["activities"][0]["competences"][1]["modalities"] = ["oral"]
        path = write(tmp_path, data)
        with pytest.raises(ReferentialError) as err:
            load_referential(path)
        assert str(err.value).endswith("la compétence C2 cite une modalité inconnue : oral")

    def test_competence_without_any_modality(self, tmp_path: Path) -> None:
        data = raw_data()
        data["questionnaires"][2]["competences"] = ["C22"]
        path = write(tmp_path, data)
        with pytest.raises(ReferentialError) as err:
            load_referential(path)
        assert str(err.value) == (
            f"{path}:{line_of(path, 'code: C21')}: "
            "la compétence C21 n'est évaluée par aucune modalité"
        )

    def test_wrong_ref(self, tmp_path: Path) -> None:
        data = raw_data()
        data["blocs"][1]["activities"][0]["competences"][0]["ref"] = "B1.7"
        path = write(tmp_path, data)
        with pytest.raises(ReferentialError, match=r"C7 devrait avoir la référence B2\.1"):
            load_referential(path)

    def test_duplicate_bloc_number(self, tmp_path: Path) -> None:
        data = raw_data()
        data["blocs"][2]["number"] = 2
        data["blocs"][2]["code"] = "B2"
        data["blocs"][2]["activities"][0]["competences"][0]["ref"] = "B2.1"
        path = write(tmp_path, data)
        with pytest.raises(ReferentialError, match="numéro de bloc en double : 2"):
            load_referential(path)

    def test_duplicate_activity_code(self, tmp_path: Path) -> None:
        data = raw_data()
        data["blocs"][0]["activities"][1]["code"] = "A1"
        path = write(tmp_path, data)
        with pytest.raises(ReferentialError, match="code d'activité en double : A1"):
            load_referential(path)

    def test_duplicate_questionnaire_id(self, tmp_path: Path) -> None:
        data = raw_data()
        data["questionnaires"][3]["id"] = "fiscalite"
        path = write(tmp_path, data)
        with pytest.raises(ReferentialError, match="identifiant de questionnaire en double"):
            load_referential(path)

    @pytest.mark.parametrize("value", [0, -5, "100.01", 101])
    def test_threshold_out_of_range(self, tmp_path: Path, value: object) -> None:
        data = raw_data()
        data["questionnaires"][0]["pass_threshold_percent"] = value
        path = write(tmp_path, data)
        with pytest.raises(
            ReferentialError, match=r"le seuil de réussite doit être dans \]0, 100\]"
        ):
            load_referential(path)

    @pytest.mark.parametrize(
        ("value", "expected"),
        [(100, Decimal(100)), ("59.99", Decimal("59.99")), (62.5, Decimal("62.5"))],
    )
    def test_threshold_is_exact(self, tmp_path: Path, value: object, expected: Decimal) -> None:
        data = raw_data()
        data["questionnaires"][0]["pass_threshold_percent"] = value
        loaded = load_referential(write(tmp_path, data))
        assert loaded.questionnaire("fiscalite").pass_threshold_percent == expected

    def test_unsupported_rule_refused(self, tmp_path: Path) -> None:
        data = raw_data()
        data["rules"]["bloc_validation"] = "majority"
        path = write(tmp_path, data)
        with pytest.raises(ReferentialError, match="rules.bloc_validation"):
            load_referential(path)

    def test_all_issues_reported_together(self, tmp_path: Path) -> None:
        data = raw_data()
        data["questionnaires"][0]["competences"] = ["C98"]
        data["questionnaires"][2]["competences"] = ["C99"]
        path = write(tmp_path, data)
        with pytest.raises(ReferentialError) as err:
            load_referential(path)
        assert str(err.value).splitlines() == [
            f"{path}:{line_of(path, '- C98')}: "
            "le questionnaire « fiscalite » évalue une compétence inconnue : C98",
            f"{path}:{line_of(path, '- C99')}: "
            "le questionnaire « reglementation » évalue une compétence inconnue : C99",
            f"{path}:{line_of(path, 'code: C21')}: "
            "la compétence C21 n'est évaluée par aucune modalité",
        ]


# --------------------------------------------------------------------------- no hard-coding

CODE_RE = re.compile(r"\bC(?:[1-9]|1\d|2[0-2])\b")
SIXTY_TEXT_RE = re.compile(r"\b60\b")
QUOTED_CODE_RE = re.compile(r"""["']C\d+["']""")
# 60 is fine on a line about time (minutes/seconds conversions) or explicitly marked.
TIME_RE = re.compile(r"minute|second|hour|heure|max_age|timedelta|\bsec\b|\bmin\b", re.I)
NOT_A_THRESHOLD = "not-a-threshold"


def _sixty_allowed(line: str) -> bool:
    return NOT_A_THRESHOLD in line or bool(TIME_RE.search(line))


def _is_sixty(number: str) -> bool:
    try:
        return ast.literal_eval(number) == 60
    except (ValueError, SyntaxError):
        return False


def hard_coded_rules(source: str) -> list[tuple[int, str]]:
    """(line, token) of competence codes in string literals and of the number 60."""
    lines = source.splitlines()
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):  # a file being edited: plain grep
        found = []
        for n, line in enumerate(lines, 1):
            if QUOTED_CODE_RE.search(line) or (
                SIXTY_TEXT_RE.search(line) and not _sixty_allowed(line)
            ):
                found.append((n, line.strip()))
        return found
    found = []
    for tok in tokens:
        line = lines[tok.start[0] - 1] if tok.start[0] <= len(lines) else ""
        if tok.type == tokenize.STRING and CODE_RE.search(tok.string):
            found.append((tok.start[0], tok.string))
        elif _sixty_allowed(line):
            continue
        elif (tok.type == tokenize.NUMBER and _is_sixty(tok.string)) or (
            tok.type == tokenize.STRING and SIXTY_TEXT_RE.search(tok.string)
        ):
            found.append((tok.start[0], tok.string))
    return found


class TestNoHardCodedRules:
    def test_scanner_detects_hard_coding(self) -> None:
        source = (
            'a = "C9"\n'
            "b = 60\n"
            "c = Decimal('60')\n"
            "d = x * 60  # not-a-threshold\n"
            "e = 'C23 600 B2.3'\n"
            "# C9 at 60 % in a comment\n"
            'f = f"{x} C22"\n'
            "g = session_minutes * 60\n"
            "h = timedelta(seconds=60)\n"
            "if percent >= 60.0:\n"
        )
        assert hard_coded_rules(source) == [
            (1, '"C9"'),
            (2, "60"),
            (3, "'60'"),
            (7, 'f"{x} C22"'),
            (10, "60.0"),
        ]

    def test_app_sources_do_not_hard_code_competences_or_thresholds(self) -> None:
        files = sorted(APP_DIR.rglob("*.py"))
        assert APP_DIR / "referential" / "model.py" in files
        offenders = {
            str(path.relative_to(APP_DIR.parent)): found
            for path in files
            if (found := hard_coded_rules(path.read_text(encoding="utf-8")))
        }
        assert offenders == {}, (
            "competence codes and thresholds are data (app/referential/referentiel.yaml); "
            f"mark a 60 that is not a threshold with '# {NOT_A_THRESHOLD}': {offenders}"
        )
