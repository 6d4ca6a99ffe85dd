"""The certification rules of the seed, each as its own case, on the real referential."""

from dataclasses import FrozenInstanceError
from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.records.rules import (
    BlocState,
    CertificationState,
    CompetenceState,
    Outcome,
    bloc_state,
    build_record,
    certification_state,
    competence_state,
    modality_label,
    modality_result,
    questionnaire_outcomes,
)
from app.referential.model import default_referential

REF = default_referential()
JURY = ("mise_en_situation", "livrables", "soutenance")
SESSION_1 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
SESSION_2 = datetime(2025, 9, 15, 9, 0, tzinfo=UTC)
BLOC_1 = tuple(f"C{n}" for n in range(1, 7))
BLOC_2 = tuple(f"C{n}" for n in range(7, 17))
BLOC_3 = tuple(f"C{n}" for n in range(17, 23))
BLOCS = {"B1": BLOC_1, "B2": BLOC_2, "B3": BLOC_3}


def jury(code: str, modality: str, passed: bool = True, at: datetime = SESSION_1) -> Outcome:
    return Outcome(code, modality, passed, at, "jury", "commentaire du jury")


def quiz(code: str, qid: str, passed: bool = True, at: datetime = SESSION_1) -> Outcome:
    return Outcome(
        code, f"questionnaire:{qid}", passed, at, "questionnaire", "72,5 %" if passed else "40 %"
    )


def passed_all(code: str, at: datetime = SESSION_1) -> list[Outcome]:
    """A passed outcome for every modality of ``code``."""
    return [
        Outcome(code, m, True, at, "questionnaire" if ":" in m else "jury")
        for m in REF.modalities_for(code)
    ]


def passed_competences(*codes: str, at: datetime = SESSION_1) -> list[Outcome]:
    return [o for code in codes for o in passed_all(code, at)]


def state(code: str, outcomes: list[Outcome]) -> CompetenceState:
    return competence_state(REF, code, outcomes)


# --------------------------------------------------------------------------- modalities


class TestModalityResult:
    def test_never_evaluated_is_none(self):
        assert modality_result([]) is None

    def test_only_failures_is_false(self):
        outcomes = [jury("C1", "soutenance", False), jury("C1", "soutenance", False, SESSION_2)]
        assert modality_result(outcomes) is False

    def test_one_pass_is_true(self):
        assert modality_result([jury("C1", "soutenance")]) is True

    def test_later_pass_replaces_earlier_failure(self):
        outcomes = [jury("C1", "soutenance", False), jury("C1", "soutenance", True, SESSION_2)]
        assert modality_result(outcomes) is True

    def test_pass_is_never_lost(self):
        outcomes = [jury("C1", "soutenance", True), jury("C1", "soutenance", False, SESSION_2)]
        assert modality_result(outcomes) is True


class TestModalityLabels:
    def test_own_modalities_use_the_referential_labels(self):
        assert [modality_label(REF, m) for m in JURY] == [
            "Mise en situation professionnelle",
            "Rendu de livrables professionnels",
            "Soutenance orale devant jury",
        ]

    def test_questionnaires_use_their_titles(self):
        assert modality_label(REF, "questionnaire:fiscalite") == (
            "Questionnaire thématique portant sur la réglementation fiscale"
        )

    @pytest.mark.parametrize("modality", ["oral", "questionnaire", "questionnaire:inconnu"])
    def test_unknown_modality_refused(self, modality):
        with pytest.raises(ValueError, match=f"modalité inconnue du référentiel : « {modality} »"):
            modality_label(REF, modality)


# --------------------------------------------------------------------------- competences


class TestCompetenceAcquired:
    @pytest.mark.parametrize("code", [*BLOC_1, *BLOC_2, *BLOC_3])
    def test_all_modalities_passed_is_acquired(self, code):
        assert state(code, passed_all(code)) is CompetenceState.ACQUIRED

    def test_one_failed_modality_is_not_acquired(self):
        outcomes = [jury("C1", "mise_en_situation"), jury("C1", "livrables")]
        outcomes.append(jury("C1", "soutenance", passed=False))
        assert state("C1", outcomes) is CompetenceState.NOT_ACQUIRED

    def test_failure_wins_over_missing_modality(self):
        outcomes = [jury("C1", "mise_en_situation"), jury("C1", "livrables", passed=False)]
        assert state("C1", outcomes) is CompetenceState.NOT_ACQUIRED

    @pytest.mark.parametrize("code", [*BLOC_1, *BLOC_2, *BLOC_3])
    def test_missing_modality_is_pending(self, code):
        for missing in REF.modalities_for(code):
            outcomes = [o for o in passed_all(code) if o.modality != missing]
            assert state(code, outcomes) is CompetenceState.PENDING, missing

    def test_no_outcome_is_pending(self):
        assert state("C1", []) is CompetenceState.PENDING

    def test_outcomes_of_other_competences_do_not_count(self):
        outcomes = passed_competences("C2", "C3") + [jury("C2", "soutenance", passed=False)]
        assert state("C1", outcomes) is CompetenceState.PENDING

    def test_jury_only_competence_needs_exactly_the_three_jury_modalities(self):
        assert REF.modalities_for("C1") == JURY
        assert state("C1", [jury("C1", m) for m in JURY]) is CompetenceState.ACQUIRED


class TestCompetencesEvaluatedByQuestionnaires:
    def test_c21_is_acquired_by_the_e3_questionnaire_alone(self):
        assert REF.modalities_for("C21") == ("questionnaire:reglementation",)
        assert REF.questionnaire("reglementation").code == "E3"
        assert state("C21", [quiz("C21", "reglementation")]) is CompetenceState.ACQUIRED

    def test_c21_failed_e3_questionnaire_is_not_acquired(self):
        outcomes = [quiz("C21", "reglementation", passed=False)]
        assert state("C21", outcomes) is CompetenceState.NOT_ACQUIRED

    def test_c9_needs_its_three_jury_modalities_and_the_fiscalite_questionnaire(self):
        assert REF.modalities_for("C9") == (*JURY, "questionnaire:fiscalite")
        outcomes = [jury("C9", m) for m in JURY] + [quiz("C9", "fiscalite")]
        assert state("C9", outcomes) is CompetenceState.ACQUIRED

    def test_c9_jury_modalities_alone_are_pending(self):
        assert state("C9", [jury("C9", m) for m in JURY]) is CompetenceState.PENDING

    def test_c9_questionnaire_alone_is_pending(self):
        assert state("C9", [quiz("C9", "fiscalite")]) is CompetenceState.PENDING

    def test_c9_failed_questionnaire_is_not_acquired(self):
        outcomes = [jury("C9", m) for m in JURY] + [quiz("C9", "fiscalite", passed=False)]
        assert state("C9", outcomes) is CompetenceState.NOT_ACQUIRED

    def test_c19_and_c20_both_need_the_risques_questionnaire(self):
        assert REF.questionnaire("risques").competences == ("C19", "C20")
        for code in ("C19", "C20"):
            assert REF.modalities_for(code) == (*JURY, "questionnaire:risques")
        jury_only = [jury(code, m) for code in ("C19", "C20") for m in JURY]
        assert state("C19", jury_only) is CompetenceState.PENDING
        assert state("C20", jury_only) is CompetenceState.PENDING
        outcomes = jury_only + list(
            questionnaire_outcomes(REF, "risques", passed=True, decided_at=SESSION_1)
        )
        assert state("C19", outcomes) is CompetenceState.ACQUIRED
        assert state("C20", outcomes) is CompetenceState.ACQUIRED

    def test_a_failed_risques_questionnaire_fails_c19_and_c20(self):
        outcomes = [jury(code, m) for code in ("C19", "C20") for m in JURY]
        outcomes += questionnaire_outcomes(REF, "risques", passed=False, decided_at=SESSION_1)
        assert state("C19", outcomes) is CompetenceState.NOT_ACQUIRED
        assert state("C20", outcomes) is CompetenceState.NOT_ACQUIRED

    def test_c22_needs_the_rgpd_questionnaire(self):
        assert REF.modalities_for("C22") == (*JURY, "questionnaire:rgpd")
        assert state("C22", [jury("C22", m) for m in JURY]) is CompetenceState.PENDING

    def test_questionnaire_outcomes_cover_every_evaluated_competence(self):
        outcomes = questionnaire_outcomes(
            REF, "risques", passed=True, decided_at=SESSION_2, detail="72,5 %"
        )
        assert outcomes == (
            Outcome("C19", "questionnaire:risques", True, SESSION_2, "questionnaire", "72,5 %"),
            Outcome("C20", "questionnaire:risques", True, SESSION_2, "questionnaire", "72,5 %"),
        )


# --------------------------------------------------------------------------- blocs


class TestBlocMembership:
    @pytest.mark.parametrize(("bloc", "codes"), BLOCS.items())
    def test_bloc_competences(self, bloc, codes):
        (found,) = [b for b in REF.blocs if b.code == bloc]
        assert tuple(c.code for c in found.competences) == codes

    @pytest.mark.parametrize(("bloc", "codes"), BLOCS.items())
    def test_bloc_needs_exactly_its_competences(self, bloc, codes):
        others = [c for other, cs in BLOCS.items() if other != bloc for c in cs]
        assert bloc_state(REF, bloc, passed_competences(*codes)) is BlocState.VALIDATED
        assert bloc_state(REF, bloc, passed_competences(*others)) is BlocState.PENDING


class TestBlocValidation:
    @pytest.mark.parametrize(("bloc", "codes"), BLOCS.items())
    def test_all_competences_acquired_is_validated(self, bloc, codes):
        assert bloc_state(REF, bloc, passed_competences(*codes)) is BlocState.VALIDATED

    @pytest.mark.parametrize(
        ("bloc", "missing"), [(b, c) for b, codes in BLOCS.items() for c in codes]
    )
    def test_all_but_one_competence_is_not_validated(self, bloc, missing):
        outcomes = passed_competences(*(c for c in BLOCS[bloc] if c != missing))
        assert bloc_state(REF, bloc, outcomes) is BlocState.PENDING

    def test_one_competence_not_acquired_is_not_validated(self):
        outcomes = passed_competences(*BLOC_1[1:]) + [jury("C1", "soutenance", passed=False)]
        assert bloc_state(REF, "B1", outcomes) is BlocState.NOT_VALIDATED

    def test_not_acquired_wins_over_pending(self):
        assert bloc_state(REF, "B1", [jury("C1", "soutenance", passed=False)]) is (
            BlocState.NOT_VALIDATED
        )

    def test_no_outcome_is_pending(self):
        assert bloc_state(REF, "B2", []) is BlocState.PENDING

    def test_unknown_bloc_refused(self):
        with pytest.raises(ValueError, match="bloc inconnu du référentiel : B4"):
            bloc_state(REF, "B4", [])


# --------------------------------------------------------------------------- title


class TestCertification:
    def test_three_validated_blocs_obtain_the_title(self):
        states = dict.fromkeys(BLOCS, BlocState.VALIDATED)
        assert certification_state(states) == (CertificationState.TITLE, ("B1", "B2", "B3"))
        assert CertificationState.TITLE == "titre obtenu"

    @pytest.mark.parametrize("validated", [("B1",), ("B2",), ("B3",)])
    def test_one_validated_bloc_is_a_partial_validation(self, validated):
        states = {b: BlocState.VALIDATED if b in validated else BlocState.PENDING for b in BLOCS}
        assert certification_state(states) == (CertificationState.PARTIAL, validated)
        assert CertificationState.PARTIAL == "validation partielle"

    @pytest.mark.parametrize("validated", [("B1", "B2"), ("B1", "B3"), ("B2", "B3")])
    def test_two_validated_blocs_are_a_partial_validation(self, validated):
        states = {
            b: BlocState.VALIDATED if b in validated else BlocState.NOT_VALIDATED for b in BLOCS
        }
        assert certification_state(states) == (CertificationState.PARTIAL, validated)

    @pytest.mark.parametrize("other", [BlocState.PENDING, BlocState.NOT_VALIDATED])
    def test_no_validated_bloc_is_not_validated(self, other):
        states = dict.fromkeys(BLOCS, other)
        assert certification_state(states) == (CertificationState.NONE, ())
        assert CertificationState.NONE == "non validé"

    def test_no_bloc_at_all_is_not_validated(self):
        assert certification_state({}) == (CertificationState.NONE, ())

    def test_with_the_referential_the_result_follows_its_order(self):
        states = {"B3": BlocState.VALIDATED, "B1": BlocState.VALIDATED, "B2": BlocState.PENDING}
        assert certification_state(states, referential=REF) == (
            CertificationState.PARTIAL,
            ("B1", "B3"),
        )

    def test_with_the_referential_every_bloc_is_required(self):
        states = {"B1": BlocState.VALIDATED, "B2": BlocState.VALIDATED}
        with pytest.raises(ValueError, match="blocs manquants : B3"):
            certification_state(states, referential=REF)

    def test_with_the_referential_unknown_blocs_refused(self):
        states = {**dict.fromkeys(BLOCS, BlocState.VALIDATED), "B4": BlocState.VALIDATED}
        with pytest.raises(ValueError, match="blocs inconnus du référentiel : B4"):
            certification_state(states, referential=REF)


class TestRecordCertification:
    def test_every_competence_acquired_obtains_the_title(self):
        record = build_record(REF, passed_competences(*BLOC_1, *BLOC_2, *BLOC_3))
        assert (record.certification, record.validated_blocs) == (
            CertificationState.TITLE,
            ("B1", "B2", "B3"),
        )

    def test_two_blocs_are_a_partial_validation_listing_them(self):
        record = build_record(REF, passed_competences(*BLOC_1, *BLOC_3))
        assert (record.certification, record.validated_blocs) == (
            CertificationState.PARTIAL,
            ("B1", "B3"),
        )
        assert [b.state for b in record.blocs] == [
            BlocState.VALIDATED,
            BlocState.PENDING,
            BlocState.VALIDATED,
        ]

    def test_all_but_one_competence_is_a_partial_validation(self):
        record = build_record(REF, passed_competences(*BLOC_1, *BLOC_2, *BLOC_3[:-1]))
        assert (record.certification, record.validated_blocs) == (
            CertificationState.PARTIAL,
            ("B1", "B2"),
        )

    def test_nothing_evaluated_is_not_validated(self):
        record = build_record(REF, [])
        assert (record.certification, record.validated_blocs) == (CertificationState.NONE, ())
        assert {b.state for b in record.blocs} == {BlocState.PENDING}


# --------------------------------------------------------------------------- sessions


class TestAcrossSessions:
    def test_later_passed_questionnaire_replaces_an_earlier_failure(self):
        outcomes = [jury("C9", m) for m in JURY]
        outcomes.append(quiz("C9", "fiscalite", passed=False, at=SESSION_1))
        assert state("C9", outcomes) is CompetenceState.NOT_ACQUIRED
        outcomes.append(quiz("C9", "fiscalite", passed=True, at=SESSION_2))
        assert state("C9", outcomes) is CompetenceState.ACQUIRED

    def test_later_pass_validates_the_bloc(self):
        outcomes = passed_competences(*(c for c in BLOC_2 if c != "C9"))
        outcomes += [jury("C9", m) for m in JURY]
        outcomes.append(quiz("C9", "fiscalite", passed=False, at=SESSION_1))
        assert bloc_state(REF, "B2", outcomes) is BlocState.NOT_VALIDATED
        outcomes.append(quiz("C9", "fiscalite", passed=True, at=SESSION_2))
        assert bloc_state(REF, "B2", outcomes) is BlocState.VALIDATED

    def test_validated_bloc_stays_validated_when_a_later_questionnaire_is_failed(self):
        outcomes = passed_competences(*BLOC_3, at=SESSION_1)
        assert bloc_state(REF, "B3", outcomes) is BlocState.VALIDATED
        outcomes += questionnaire_outcomes(REF, "risques", passed=False, decided_at=SESSION_2)
        assert bloc_state(REF, "B3", outcomes) is BlocState.VALIDATED
        record = build_record(REF, outcomes)
        assert (record.certification, record.validated_blocs) == (
            CertificationState.PARTIAL,
            ("B3",),
        )
        line = record.competence("C19").modalities[-1]
        assert [(o.passed, o.decided_at) for o in line.outcomes] == [
            (True, SESSION_1),
            (False, SESSION_2),
        ]
        assert line.result is True

    def test_validated_bloc_stays_validated_when_a_later_jury_modality_is_failed(self):
        outcomes = passed_competences(*BLOC_1, at=SESSION_1)
        outcomes.append(jury("C1", "soutenance", passed=False, at=SESSION_2))
        assert bloc_state(REF, "B1", outcomes) is BlocState.VALIDATED

    def test_order_of_the_outcomes_does_not_matter(self):
        outcomes = [jury("C9", m) for m in JURY]
        outcomes += [quiz("C9", "fiscalite", True, SESSION_2), quiz("C9", "fiscalite", False)]
        assert state("C9", outcomes) is CompetenceState.ACQUIRED


# --------------------------------------------------------------------------- record


class TestRecordLayout:
    def test_every_bloc_and_competence_in_referential_order(self):
        record = build_record(REF, [])
        assert [(b.code, b.number, b.title) for b in record.blocs] == [
            (b.code, b.number, b.title) for b in REF.blocs
        ]
        assert [c.code for b in record.blocs for c in b.competences] == [
            *BLOC_1,
            *BLOC_2,
            *BLOC_3,
        ]
        assert record.competence("C9").ref == "B2.3"
        assert record.competence("C9").title == REF.competences["C9"].title

    def test_modality_lines_follow_the_referential(self):
        line = build_record(REF, []).competence("C9")
        assert [(m.modality, m.label, m.result, m.outcomes) for m in line.modalities] == [
            ("mise_en_situation", "Mise en situation professionnelle", None, ()),
            ("livrables", "Rendu de livrables professionnels", None, ()),
            ("soutenance", "Soutenance orale devant jury", None, ()),
            (
                "questionnaire:fiscalite",
                "Questionnaire thématique portant sur la réglementation fiscale",
                None,
                (),
            ),
        ]

    def test_outcomes_listed_oldest_first(self):
        later = jury("C1", "soutenance", True, SESSION_2)
        earlier = jury("C1", "soutenance", False, SESSION_1)
        paris = jury("C1", "soutenance", False, SESSION_1.astimezone(timezone(timedelta(hours=2))))
        line = build_record(REF, [later, earlier, paris]).competence("C1").modalities[2]
        assert line.outcomes == (earlier, paris, later)
        assert line.result is True

    def test_states_on_every_line(self):
        outcomes = passed_all("C1") + [jury("C2", "livrables", passed=False)]
        outcomes.append(jury("C3", "livrables"))
        bloc = build_record(REF, outcomes).bloc("B1")
        assert [c.state for c in bloc.competences] == [
            CompetenceState.ACQUIRED,
            CompetenceState.NOT_ACQUIRED,
            CompetenceState.PENDING,
            CompetenceState.PENDING,
            CompetenceState.PENDING,
            CompetenceState.PENDING,
        ]
        assert bloc.state is BlocState.NOT_VALIDATED

    def test_french_state_labels(self):
        assert [str(s) for s in CompetenceState] == ["acquise", "non acquise", "en attente"]
        assert [str(s) for s in BlocState] == ["validé", "non validé", "en attente"]

    def test_record_is_frozen(self):
        record = build_record(REF, [])
        with pytest.raises(FrozenInstanceError):
            record.certification = CertificationState.TITLE  # type: ignore[misc]

    def test_lookup_of_unknown_lines(self):
        record = build_record(REF, [])
        with pytest.raises(KeyError, match="C99"):
            record.competence("C99")
        with pytest.raises(KeyError, match="B4"):
            record.bloc("B4")


# --------------------------------------------------------------------------- refusals


class TestRefusals:
    def test_unknown_competence_refused(self):
        with pytest.raises(ValueError, match="compétence inconnue du référentiel : C99"):
            build_record(REF, [jury("C99", "soutenance")])

    def test_questionnaire_of_another_competence_refused(self):
        with pytest.raises(
            ValueError,
            match="la modalité « questionnaire:fiscalite » n'évalue pas la compétence C1 ",
        ):
            build_record(REF, [quiz("C1", "fiscalite")])

    def test_jury_modality_of_a_questionnaire_only_competence_refused(self):
        with pytest.raises(ValueError, match="« soutenance » n'évalue pas la compétence C21"):
            build_record(REF, [jury("C21", "soutenance")])

    @pytest.mark.parametrize("modality", ["oral", "questionnaire", "questionnaire:inconnu"])
    def test_unknown_modality_refused(self, modality):
        with pytest.raises(ValueError, match=f"« {modality} » n'évalue pas la compétence C9"):
            competence_state(REF, "C9", [jury("C9", modality)])

    def test_every_problem_reported_together(self):
        outcomes = [jury("C99", "soutenance"), jury("C1", "oral"), jury("C99", "soutenance")]
        with pytest.raises(ValueError) as err:
            bloc_state(REF, "B1", outcomes)
        message = str(err.value)
        assert message.startswith("résultats refusés : compétence inconnue du référentiel : C99")
        assert message.count("C99") == 1
        assert "« oral » n'évalue pas la compétence C1" in message

    def test_unknown_competence_asked(self):
        with pytest.raises(ValueError, match="compétence inconnue du référentiel : C23"):
            competence_state(REF, "C23", [])

    def test_unknown_questionnaire_refused(self):
        with pytest.raises(ValueError, match="questionnaire inconnu du référentiel : « e4 »"):
            questionnaire_outcomes(REF, "e4", passed=True, decided_at=SESSION_1)

    def test_naive_decision_date_refused(self):
        with pytest.raises(ValueError, match="fuseau horaire"):
            Outcome("C1", "soutenance", True, datetime(2025, 3, 3, 9, 0), "jury")

    def test_unknown_source_refused(self):
        with pytest.raises(ValueError, match="origine inconnue « import »"):
            Outcome("C1", "soutenance", True, SESSION_1, "import")

    def test_passed_must_be_a_boolean(self):
        with pytest.raises(ValueError, match="« passed » doit être vrai ou faux"):
            Outcome("C1", "soutenance", "oui", SESSION_1, "jury")  # type: ignore[arg-type]

    def test_unsupported_rule_refused(self):
        rules = REF.rules.model_copy(update={"bloc_validation": "majority"})
        changed = REF.model_copy(update={"rules": rules})
        with pytest.raises(ValueError, match="règle du référentiel non prise en charge"):
            build_record(changed, [])
