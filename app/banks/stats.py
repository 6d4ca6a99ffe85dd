"""Coverage of a bank: items per topic, type and difficulty. Pure: no DB, no web."""

from collections import Counter
from dataclasses import dataclass
from datetime import date

from app.banks.format import QUESTION_TYPES, BankDocument

TYPE_LABELS = {
    "single_choice": "choix unique",
    "multiple_choice": "choix multiple",
    "true_false": "vrai/faux",
    "numeric": "numérique",
}


@dataclass(frozen=True)
class TopicCoverage:
    topic: str
    label: str
    items: int
    valid_on_date: int
    quota: int | None


@dataclass(frozen=True)
class BankStats:
    bank_id: str
    version: str
    on_date: date
    items: int
    topics: tuple[TopicCoverage, ...]
    types: dict[str, int]
    difficulties: dict[int, int]
    with_reference: int


def is_valid_on(question, on_date: date) -> bool:
    """True when ``on_date`` falls within the question's validity window."""
    return question.valid_from <= on_date and (
        question.valid_until is None or on_date <= question.valid_until
    )


def bank_stats(document: BankDocument, *, on_date: date) -> BankStats:
    """Counts of a (defaults-resolved) bank, with what is valid on ``on_date``."""
    per_topic = Counter(q.topic for q in document.questions)
    valid = Counter(q.topic for q in document.questions if is_valid_on(q, on_date))
    quotas = document.blueprint.quotas if document.blueprint else {}
    types = Counter(q.type for q in document.questions)
    return BankStats(
        bank_id=document.id,
        version=document.version,
        on_date=on_date,
        items=len(document.questions),
        topics=tuple(
            TopicCoverage(topic, label, per_topic[topic], valid[topic], quotas.get(topic))
            for topic, label in document.topics.items()
        ),
        types={kind: types[kind] for kind in QUESTION_TYPES},
        difficulties={
            level: sum(q.difficulty == level for q in document.questions) for level in (1, 2, 3)
        },
        with_reference=sum(bool(q.references) for q in document.questions),
    )


def format_stats(stats: BankStats) -> list[str]:
    """The coverage as French lines for the terminal."""
    width = max(len(t.topic) for t in stats.topics)
    lines = [
        f"{stats.bank_id} {stats.version} : {stats.items} questions, "
        f"{stats.with_reference} avec référence",
        f"  {'sujet'.ljust(width)}  questions  valides le {stats.on_date:%d/%m/%Y}  quota",
    ]
    for topic in stats.topics:
        quota = "-" if topic.quota is None else str(topic.quota)
        lines.append(
            f"  {topic.topic.ljust(width)}  {topic.items:>9}  {topic.valid_on_date:>19}  {quota:>5}"
        )
    lines.append("  types : " + ", ".join(f"{TYPE_LABELS[k]} {n}" for k, n in stats.types.items()))
    lines.append(
        "  difficulté : " + ", ".join(f"{level} : {n}" for level, n in stats.difficulties.items())
    )
    return lines
