"""The draw: which questions an attempt shows and in which order. Pure and seeded."""

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


class DrawError(Exception):
    """The blueprint cannot be drawn from the eligible questions."""


@dataclass(frozen=True)
class DrawnItem:
    question_id: str
    option_order: tuple[str, ...] | None


def draw(
    *,
    seed: str,
    eligible: Mapping[str, Sequence[str]],
    quotas: Mapping[str, int],
    options: Mapping[str, Sequence[str]],
    shuffle_questions: bool,
    shuffle_options: bool,
) -> list[DrawnItem]:
    """Pick ``quotas[topic]`` questions of each topic, then order questions and options.

    ``eligible`` maps a topic to its question ids, ``options`` a choice question to its
    option ids. The same seed gives the same draw, whatever the order of the inputs.
    """
    rng = random.Random(f"draw:{seed}")
    picked: list[str] = []
    for topic in sorted(quotas):
        pool = sorted(eligible.get(topic, ()))
        if len(pool) < quotas[topic]:
            raise DrawError(
                f"le sujet « {topic} » n'a que {len(pool)} question(s) valide(s) pour "
                f"{quotas[topic]} à tirer"
            )
        picked.extend(rng.sample(pool, quotas[topic]))
    if shuffle_questions:
        rng.shuffle(picked)
    items = []
    for question_id in picked:
        order = options.get(question_id)
        if order is not None:
            order = list(order)
            if shuffle_options:
                random.Random(f"options:{seed}:{question_id}").shuffle(order)
            order = tuple(order)
        items.append(DrawnItem(question_id, order))
    return items
