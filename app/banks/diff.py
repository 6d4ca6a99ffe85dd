"""What changed between two versions of a bank. Pure: no DB, no web."""

from dataclasses import dataclass, field

from app.banks.format import BankDocument

_HEADER_FIELDS = ("title", "theme", "competences", "valid_from", "valid_until", "authors", "topics")


@dataclass(frozen=True)
class QuestionChange:
    question_id: str
    fields: tuple[str, ...]


@dataclass(frozen=True)
class BankDiff:
    old_version: str
    new_version: str
    header_fields: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[QuestionChange, ...] = field(default_factory=tuple)

    @property
    def is_empty(self) -> bool:
        return not (self.header_fields or self.added or self.removed or self.changed)


def diff_documents(old: BankDocument, new: BankDocument) -> BankDiff:
    """Questions added, removed and changed (with the fields that changed), by stable id."""
    old_data, new_data = old.model_dump(mode="json"), new.model_dump(mode="json")
    old_questions = {q["id"]: q for q in old_data["questions"]}
    new_questions = {q["id"]: q for q in new_data["questions"]}
    changed = tuple(
        QuestionChange(qid, _changed_fields(old_questions[qid], new_questions[qid]))
        for qid in new_questions
        if qid in old_questions and old_questions[qid] != new_questions[qid]
    )
    return BankDiff(
        old_version=old.version,
        new_version=new.version,
        header_fields=tuple(f for f in _HEADER_FIELDS if old_data[f] != new_data[f]),
        added=tuple(qid for qid in new_questions if qid not in old_questions),
        removed=tuple(qid for qid in old_questions if qid not in new_questions),
        changed=changed,
    )


def _changed_fields(old: dict, new: dict) -> tuple[str, ...]:
    return tuple(key for key in sorted(old.keys() | new.keys()) if old.get(key) != new.get(key))


def format_diff(diff: BankDiff) -> list[str]:
    """The diff as French lines, one per change, for the terminal."""
    lines = [f"Différences {diff.old_version} → {diff.new_version}"]
    if diff.header_fields:
        lines.append(f"  en-tête modifié : {', '.join(diff.header_fields)}")
    lines += [f"  + {qid} (ajoutée)" for qid in diff.added]
    lines += [f"  - {qid} (supprimée)" for qid in diff.removed]
    lines += [f"  ~ {c.question_id} (modifiée : {', '.join(c.fields)})" for c in diff.changed]
    if diff.is_empty:
        lines.append("  aucune différence de contenu")
    return lines
