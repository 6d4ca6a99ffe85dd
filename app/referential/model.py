"""The certification referential: pydantic models and a pure YAML loader.

The referential (blocs, activities, competences, modalities, criteria, thematic
questionnaires, thresholds, rules) is data, kept in ``referentiel.yaml`` next to this
module. Nothing here names a competence or a threshold: they all come from the file.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from app.yamlmarks import MarkedData, load_marked

__all__ = [
    "DEFAULT_PATH",
    "QUESTIONNAIRE_MODALITY",
    "Activity",
    "Bloc",
    "Competence",
    "Modality",
    "Questionnaire",
    "Referential",
    "ReferentialError",
    "Rules",
    "default_referential",
    "load_referential",
]

DEFAULT_PATH = Path(__file__).with_name("referentiel.yaml")

# Modality kind of the thematic questionnaires: competences reach it through
# ``Referential.questionnaires``, never through their own ``modalities`` list.
QUESTIONNAIRE_MODALITY = "questionnaire"

Text = Annotated[str, StringConstraints(min_length=1)]
Loc = tuple[str | int, ...]


class ReferentialError(ValueError):
    """The referential file is unreadable or inconsistent (message: ``fichier:ligne: …``)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Modality(_Frozen):
    """A kind of evaluation (mise en situation, livrables, soutenance, questionnaire)."""

    id: Text
    label: Text


class Competence(_Frozen):
    """A competence with its own (non-questionnaire) modalities and its criteria."""

    code: Text
    ref: Text
    title: Text
    modalities: tuple[Text, ...] = ()
    criteria: tuple[Text, ...] = Field(min_length=1)


class Activity(_Frozen):
    """An activity of the referential, its tasks and the competences it involves."""

    code: Text
    title: Text
    tasks: tuple[Text, ...] = ()
    competences: tuple[Competence, ...] = Field(min_length=1)


class Bloc(_Frozen):
    """A bloc de compétences."""

    number: int = Field(ge=1)
    code: Text
    title: Text
    activities: tuple[Activity, ...] = Field(min_length=1)

    @property
    def competences(self) -> tuple[Competence, ...]:
        """The bloc's competences in referential order."""
        return tuple(c for a in self.activities for c in a.competences)


class Questionnaire(_Frozen):
    """A thematic questionnaire, the competences it evaluates and its pass threshold."""

    id: Text
    code: Text | None = None
    title: Text
    competences: tuple[Text, ...] = Field(min_length=1)
    pass_threshold_percent: Decimal

    @field_validator("pass_threshold_percent")
    @classmethod
    def _threshold_in_range(cls, value: Decimal) -> Decimal:
        if not (0 < value <= 100):
            raise ValueError(f"le seuil de réussite doit être dans ]0, 100] (reçu : {value})")
        return value


class Rules(_Frozen):
    """The certification rules, as data, with the source's French wording."""

    competence_acquired_when: Literal["all_modalities_passed"]
    bloc_validation: Literal["all_competences"]
    title_requires: Literal["all_blocs"]
    title_note: Text
    partial_validation_note: Text
    accommodation_note: Text


class _ConsistencyError(ValueError):
    """Consistency problems, each located by its path in the document."""

    def __init__(self, issues: Sequence[tuple[Loc, str]]) -> None:
        super().__init__("; ".join(message for _, message in issues))
        self.issues = tuple(issues)


class Referential(_Frozen):
    """The whole referential: blocs, modalities, questionnaires and rules."""

    id: Text
    title: Text
    version: Text
    source: Text
    modalities: tuple[Modality, ...] = Field(min_length=1)
    blocs: tuple[Bloc, ...] = Field(min_length=1)
    questionnaires: tuple[Questionnaire, ...] = ()
    rules: Rules

    @model_validator(mode="after")
    def _check_consistency(self) -> Referential:
        issues = list(_consistency_issues(self))
        if issues:
            raise _ConsistencyError(issues)
        return self

    @cached_property
    def competences(self) -> dict[str, Competence]:
        """All competences by code, in referential order."""
        return {c.code: c for b in self.blocs for c in b.competences}

    @cached_property
    def _bloc_by_competence(self) -> dict[str, Bloc]:
        return {c.code: b for b in self.blocs for c in b.competences}

    def bloc_of(self, code: str) -> Bloc:
        """The bloc holding competence ``code`` (KeyError if unknown)."""
        try:
            return self._bloc_by_competence[code]
        except KeyError:
            raise KeyError(f"compétence inconnue : {code}") from None

    def questionnaire(self, id: str) -> Questionnaire:
        """The questionnaire ``id`` (KeyError if unknown)."""
        for q in self.questionnaires:
            if q.id == id:
                return q
        raise KeyError(f"questionnaire inconnu : {id}")

    def questionnaires_for(self, code: str) -> tuple[Questionnaire, ...]:
        """The questionnaires evaluating competence ``code``, in file order."""
        self.bloc_of(code)  # KeyError on an unknown competence
        return tuple(q for q in self.questionnaires if code in q.competences)

    def modalities_for(self, code: str) -> tuple[str, ...]:
        """Own modality ids of ``code`` then ``questionnaire:<id>`` for each questionnaire."""
        quizzes = self.questionnaires_for(code)  # KeyError on an unknown competence
        own = self.competences[code].modalities
        return own + tuple(f"{QUESTIONNAIRE_MODALITY}:{q.id}" for q in quizzes)


def _duplicates(items: Sequence[tuple[Loc, Any]], what: str) -> Iterator[tuple[Loc, str]]:
    seen: set[Any] = set()
    for loc, key in items:
        if key in seen:
            yield loc, f"{what} en double : {key}"
        seen.add(key)


def _modality_issues(
    comp: Competence, loc: Loc, modality_ids: set[str]
) -> Iterator[tuple[Loc, str]]:
    for i, modality in enumerate(comp.modalities):
        where = f"la compétence {comp.code}"
        if modality == QUESTIONNAIRE_MODALITY:
            yield (
                (*loc, "modalities", i),
                (
                    f"{where} ne peut pas citer la modalité « {modality} » :"
                    " la relier depuis « questionnaires »"
                ),
            )
        elif modality not in modality_ids:
            yield (*loc, "modalities", i), f"{where} cite une modalité inconnue : {modality}"
        elif modality in comp.modalities[:i]:
            yield (*loc, "modalities", i), f"{where} cite deux fois la modalité {modality}"


def _consistency_issues(ref: Referential) -> Iterator[tuple[Loc, str]]:
    modality_ids = {m.id for m in ref.modalities}
    yield from _duplicates(
        [(("modalities", i, "id"), m.id) for i, m in enumerate(ref.modalities)], "modalité"
    )
    yield from _duplicates(
        [(("blocs", i, "number"), b.number) for i, b in enumerate(ref.blocs)], "numéro de bloc"
    )

    activities: list[tuple[Loc, str]] = []
    competences: list[tuple[Loc, str]] = []
    refs: list[tuple[Loc, str]] = []
    evaluated: set[str] = set()
    for bi, bloc in enumerate(ref.blocs):
        if bloc.code != f"B{bloc.number}":
            yield (
                ("blocs", bi, "code"),
                (f"le bloc n°{bloc.number} doit avoir le code B{bloc.number} (reçu : {bloc.code})"),
            )
        position = 0
        for ai, activity in enumerate(bloc.activities):
            activities.append((("blocs", bi, "activities", ai, "code"), activity.code))
            for ci, comp in enumerate(activity.competences):
                position += 1
                loc: Loc = ("blocs", bi, "activities", ai, "competences", ci)
                competences.append(((*loc, "code"), comp.code))
                refs.append(((*loc, "ref"), comp.ref))
                if comp.modalities:
                    evaluated.add(comp.code)
                if comp.ref != f"{bloc.code}.{position}":
                    yield (
                        (*loc, "ref"),
                        (
                            f"la compétence {comp.code} devrait avoir la référence"
                            f" {bloc.code}.{position} (reçu : {comp.ref})"
                        ),
                    )
                yield from _modality_issues(comp, loc, modality_ids)
    yield from _duplicates(activities, "code d'activité")
    yield from _duplicates(competences, "code de compétence")
    yield from _duplicates(refs, "référence de compétence")

    if ref.questionnaires and QUESTIONNAIRE_MODALITY not in modality_ids:
        yield ("modalities",), f"la modalité « {QUESTIONNAIRE_MODALITY} » doit être déclarée"
    quizzes = list(enumerate(ref.questionnaires))
    yield from _duplicates(
        [(("questionnaires", i, "id"), q.id) for i, q in quizzes], "identifiant de questionnaire"
    )
    yield from _duplicates(
        [(("questionnaires", i, "code"), q.code) for i, q in quizzes if q.code is not None],
        "code de questionnaire",
    )
    known = {code for _, code in competences}
    for qi, quiz in quizzes:
        where = f"le questionnaire « {quiz.id} »"
        for ci, code in enumerate(quiz.competences):
            qloc: Loc = ("questionnaires", qi, "competences", ci)
            if code not in known:
                yield qloc, f"{where} évalue une compétence inconnue : {code}"
            elif code in quiz.competences[:ci]:
                yield qloc, f"{where} cite deux fois la compétence {code}"
            evaluated.add(code)
    for loc, code in competences:
        if code not in evaluated:
            yield loc, f"la compétence {code} n'est évaluée par aucune modalité"


# --------------------------------------------------------------------------- loading


def _where(name: str, line: int | None) -> str:
    return f"{name}:{line}" if line is not None else name


def _format_validation_error(exc: ValidationError, name: str, marked: MarkedData) -> str:
    lines = []
    for error in exc.errors():
        original = error.get("ctx", {}).get("error")
        if isinstance(original, _ConsistencyError):
            for loc, message in original.issues:
                lines.append(f"{_where(name, marked.line_of(loc))}: {message}")
            continue
        loc = tuple(error["loc"])
        path = ".".join(str(p) for p in loc) or "(racine)"
        message = str(original) if isinstance(original, ValueError) else error["msg"]
        lines.append(f"{_where(name, marked.line_of(loc))}: {path} : {message}")
    return "\n".join(lines)


def _parse(text: str, name: str) -> Referential:
    marked = load_marked(text)
    if marked.problems:
        raise ReferentialError(
            "\n".join(f"{_where(name, line)}: {message}" for line, message in marked.problems)
        )
    if not isinstance(marked.data, dict):
        raise ReferentialError(f"{_where(name, 1)}: le document doit être un dictionnaire YAML")
    try:
        return Referential.model_validate(marked.data)
    except ValidationError as exc:
        raise ReferentialError(_format_validation_error(exc, name, marked)) from None


def load_referential(path: Path | None = None) -> Referential:
    """Read, validate and return the referential (default: the packaged file)."""
    path = DEFAULT_PATH if path is None else Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReferentialError(f"{path}: fichier introuvable") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReferentialError(f"{path}: lecture impossible : {exc}") from None
    return _parse(text, str(path))


@lru_cache(maxsize=1)
def default_referential() -> Referential:
    """The packaged referential, loaded once."""
    return load_referential()
