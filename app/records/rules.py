"""The certification rules applied to a candidate's evaluation outcomes. Pure: no DB, no web.

The rules come from the referential (``app/referential/referentiel.yaml``), nothing here
names a competence, a bloc or a threshold:

- a modality is passed once any of its outcomes passed: a pass is never lost, so a later
  passed questionnaire replaces an earlier failure and a validated bloc stays validated
  whatever later sessions bring;
- a competence is acquired when every modality that evaluates it (its own modalities and
  the thematic questionnaires linked to it) is passed;
- a bloc is validated only when all its competences are acquired: no partial bloc;
- the title is obtained when every bloc is validated; otherwise the validated blocs make a
  partial certification.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from app.referential.model import QUESTIONNAIRE_MODALITY, Referential

__all__ = [
    "SOURCES",
    "SOURCE_JURY",
    "SOURCE_QUESTIONNAIRE",
    "BlocLine",
    "BlocState",
    "CandidateRecord",
    "CertificationState",
    "CompetenceLine",
    "CompetenceState",
    "ModalityLine",
    "Outcome",
    "bloc_state",
    "build_record",
    "certification_state",
    "competence_state",
    "modality_label",
    "modality_result",
    "questionnaire_modality",
    "questionnaire_outcomes",
]

SOURCE_JURY = "jury"
SOURCE_QUESTIONNAIRE = "questionnaire"
SOURCES = (SOURCE_JURY, SOURCE_QUESTIONNAIRE)

# The only rules this module implements; the referential's ``rules`` must name them.
_SUPPORTED_RULES = {
    "competence_acquired_when": "all_modalities_passed",
    "bloc_validation": "all_competences",
    "title_requires": "all_blocs",
}


class CompetenceState(StrEnum):
    ACQUIRED = "acquise"
    NOT_ACQUIRED = "non acquise"
    PENDING = "en attente"


class BlocState(StrEnum):
    VALIDATED = "validé"
    NOT_VALIDATED = "non validé"
    PENDING = "en attente"


class CertificationState(StrEnum):
    TITLE = "titre obtenu"
    PARTIAL = "validation partielle"
    NONE = "non validé"


@dataclass(frozen=True)
class Outcome:
    """One evaluation result of one modality for one competence."""

    competence: str  # a competence code of the referential
    modality: str  # an own modality id, or "questionnaire:<id>"
    passed: bool
    decided_at: datetime  # timezone-aware
    source: str  # SOURCE_JURY or SOURCE_QUESTIONNAIRE
    detail: str = ""  # e.g. "72,5 %" or the jury's comment

    def __post_init__(self) -> None:
        where = f"résultat {self.competence} / « {self.modality} »"
        if not isinstance(self.passed, bool):
            raise ValueError(
                f"{where} : « passed » doit être vrai ou faux (reçu : {self.passed!r})"
            )
        if self.decided_at.tzinfo is None or self.decided_at.utcoffset() is None:
            raise ValueError(f"{where} : la date de décision doit indiquer son fuseau horaire")
        if self.source not in SOURCES:
            allowed = " ou ".join(f"« {s} »" for s in SOURCES)
            raise ValueError(f"{where} : origine inconnue « {self.source} » (attendu : {allowed})")


@dataclass(frozen=True)
class ModalityLine:
    modality: str
    label: str
    result: bool | None  # None: never evaluated
    outcomes: tuple[Outcome, ...]  # oldest first


@dataclass(frozen=True)
class CompetenceLine:
    code: str
    ref: str
    title: str
    state: CompetenceState
    modalities: tuple[ModalityLine, ...]


@dataclass(frozen=True)
class BlocLine:
    code: str
    number: int
    title: str
    state: BlocState
    competences: tuple[CompetenceLine, ...]


@dataclass(frozen=True)
class CandidateRecord:
    blocs: tuple[BlocLine, ...]
    certification: CertificationState
    validated_blocs: tuple[str, ...]  # bloc codes, in referential order

    def bloc(self, code: str) -> BlocLine:
        """The line of bloc ``code`` (KeyError if unknown)."""
        for line in self.blocs:
            if line.code == code:
                return line
        raise KeyError(f"bloc inconnu : {code}")

    def competence(self, code: str) -> CompetenceLine:
        """The line of competence ``code`` (KeyError if unknown)."""
        for bloc in self.blocs:
            for line in bloc.competences:
                if line.code == code:
                    return line
        raise KeyError(f"compétence inconnue : {code}")


# --------------------------------------------------------------------------- checks


def _check_rules(referential: Referential) -> None:
    for name, expected in _SUPPORTED_RULES.items():
        value = getattr(referential.rules, name)
        if value != expected:
            raise ValueError(
                f"règle du référentiel non prise en charge : {name} = « {value} »"
                f" (seule « {expected} » est appliquée)"
            )


def _outcome_issue(referential: Referential, outcome: Outcome) -> str | None:
    if outcome.competence not in referential.competences:
        return (
            f"compétence inconnue du référentiel : {outcome.competence}"
            f" (modalité « {outcome.modality} »)"
        )
    expected = referential.modalities_for(outcome.competence)
    if outcome.modality not in expected:
        listed = ", ".join(f"« {m} »" for m in expected)
        return (
            f"la modalité « {outcome.modality} » n'évalue pas la compétence"
            f" {outcome.competence} (modalités prévues : {listed})"
        )
    return None


def _checked(referential: Referential, outcomes: Iterable[Outcome]) -> tuple[Outcome, ...]:
    """The outcomes, all of them checked against the referential (ValueError otherwise)."""
    _check_rules(referential)
    outcomes = tuple(outcomes)
    issues = [i for o in outcomes if (i := _outcome_issue(referential, o)) is not None]
    if issues:
        raise ValueError("résultats refusés : " + " ; ".join(dict.fromkeys(issues)))
    return outcomes


def _require_competence(referential: Referential, code: str) -> None:
    if code not in referential.competences:
        raise ValueError(f"compétence inconnue du référentiel : {code}")


# --------------------------------------------------------------------------- modalities


def questionnaire_modality(questionnaire_id: str) -> str:
    """The modality id under which questionnaire ``questionnaire_id`` evaluates."""
    return f"{QUESTIONNAIRE_MODALITY}:{questionnaire_id}"


def modality_label(referential: Referential, modality: str) -> str:
    """The French label of a modality: its referential label, or the questionnaire's title."""
    for declared in referential.modalities:
        if declared.id == modality and modality != QUESTIONNAIRE_MODALITY:
            return declared.label
    prefix = questionnaire_modality("")
    if modality.startswith(prefix):
        try:
            return referential.questionnaire(modality.removeprefix(prefix)).title
        except KeyError:
            pass
    raise ValueError(f"modalité inconnue du référentiel : « {modality} »")


def questionnaire_outcomes(
    referential: Referential,
    questionnaire_id: str,
    *,
    passed: bool,
    decided_at: datetime,
    detail: str = "",
) -> tuple[Outcome, ...]:
    """One outcome per competence the questionnaire evaluates (source: questionnaire)."""
    try:
        questionnaire = referential.questionnaire(questionnaire_id)
    except KeyError:
        raise ValueError(f"questionnaire inconnu du référentiel : « {questionnaire_id} »") from None
    return tuple(
        Outcome(
            competence=code,
            modality=questionnaire_modality(questionnaire.id),
            passed=passed,
            decided_at=decided_at,
            source=SOURCE_QUESTIONNAIRE,
            detail=detail,
        )
        for code in questionnaire.competences
    )


# --------------------------------------------------------------------------- states


def modality_result(outcomes: Sequence[Outcome]) -> bool | None:
    """None if never evaluated; True once any outcome passed (never lost); else False."""
    outcomes = tuple(outcomes)
    if not outcomes:
        return None
    return any(o.passed for o in outcomes)


def _competence_state(results: Iterable[bool | None]) -> CompetenceState:
    results = tuple(results)
    if results and all(r is True for r in results):
        return CompetenceState.ACQUIRED
    if any(r is False for r in results):
        return CompetenceState.NOT_ACQUIRED
    return CompetenceState.PENDING


def _bloc_state(states: Iterable[CompetenceState]) -> BlocState:
    states = tuple(states)
    if states and all(s == CompetenceState.ACQUIRED for s in states):
        return BlocState.VALIDATED
    if any(s == CompetenceState.NOT_ACQUIRED for s in states):
        return BlocState.NOT_VALIDATED
    return BlocState.PENDING


def _grouped(outcomes: Iterable[Outcome]) -> dict[tuple[str, str], list[Outcome]]:
    groups: dict[tuple[str, str], list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        groups[outcome.competence, outcome.modality].append(outcome)
    return groups


def _modality_lines(
    referential: Referential, code: str, groups: Mapping[tuple[str, str], list[Outcome]]
) -> tuple[ModalityLine, ...]:
    lines = []
    for modality in referential.modalities_for(code):
        found = tuple(sorted(groups.get((code, modality), ()), key=lambda o: o.decided_at))
        lines.append(
            ModalityLine(
                modality=modality,
                label=modality_label(referential, modality),
                result=modality_result(found),
                outcomes=found,
            )
        )
    return tuple(lines)


def competence_state(
    referential: Referential, code: str, outcomes: Iterable[Outcome]
) -> CompetenceState:
    """ACQUIRED iff every modality of ``code`` has a passed outcome; NOT_ACQUIRED if one
    modality has only failures; PENDING otherwise. Outcomes of other competences are ignored
    (but checked)."""
    outcomes = _checked(referential, outcomes)
    _require_competence(referential, code)
    lines = _modality_lines(referential, code, _grouped(outcomes))
    return _competence_state(line.result for line in lines)


def bloc_state(referential: Referential, bloc: str, outcomes: Iterable[Outcome]) -> BlocState:
    """VALIDATED iff every competence of bloc ``bloc`` (its code) is acquired (no partial
    bloc); NOT_VALIDATED if one is not acquired; PENDING otherwise."""
    outcomes = _checked(referential, outcomes)
    for candidate in referential.blocs:
        if candidate.code == bloc:
            groups = _grouped(outcomes)
            return _bloc_state(
                _competence_state(
                    line.result for line in _modality_lines(referential, code, groups)
                )
                for code in (c.code for c in candidate.competences)
            )
    raise ValueError(f"bloc inconnu du référentiel : {bloc}")


def certification_state(
    bloc_states: Mapping[str, BlocState], *, referential: Referential | None = None
) -> tuple[CertificationState, tuple[str, ...]]:
    """TITLE iff every bloc is validated; PARTIAL with the validated bloc codes if at least
    one is; NONE otherwise.

    ``bloc_states`` maps every bloc code to its state. With ``referential``, the codes must
    be exactly its blocs (ValueError otherwise) and the result follows its order.
    """
    codes = tuple(bloc_states)
    if referential is not None:
        _check_rules(referential)
        expected = tuple(b.code for b in referential.blocs)
        missing = [c for c in expected if c not in bloc_states]
        unknown = [c for c in codes if c not in expected]
        if missing or unknown:
            problems = []
            if missing:
                problems.append("blocs manquants : " + ", ".join(missing))
            if unknown:
                problems.append("blocs inconnus du référentiel : " + ", ".join(unknown))
            raise ValueError("état des blocs incomplet : " + " ; ".join(problems))
        codes = expected
    validated = tuple(c for c in codes if bloc_states[c] == BlocState.VALIDATED)
    if codes and len(validated) == len(codes):
        return CertificationState.TITLE, validated
    if validated:
        return CertificationState.PARTIAL, validated
    return CertificationState.NONE, ()


# --------------------------------------------------------------------------- record


def build_record(referential: Referential, outcomes: Iterable[Outcome]) -> CandidateRecord:
    """The candidate's record: every bloc, competence and modality of the referential, with
    their outcomes (oldest first), states and the certification."""
    groups = _grouped(_checked(referential, outcomes))
    blocs = []
    for bloc in referential.blocs:
        competences = []
        for competence in bloc.competences:
            lines = _modality_lines(referential, competence.code, groups)
            competences.append(
                CompetenceLine(
                    code=competence.code,
                    ref=competence.ref,
                    title=competence.title,
                    state=_competence_state(line.result for line in lines),
                    modalities=lines,
                )
            )
        blocs.append(
            BlocLine(
                code=bloc.code,
                number=bloc.number,
                title=bloc.title,
                state=_bloc_state(c.state for c in competences),
                competences=tuple(competences),
            )
        )
    certification, validated = certification_state(
        {b.code: b.state for b in blocs}, referential=referential
    )
    return CandidateRecord(
        blocs=tuple(blocs), certification=certification, validated_blocs=validated
    )
