"""Item analysis of a questionnaire's scored responses. Pure: no DB, no web.

The input is one ``ItemResponse`` per (attempt, item). An attempt's **total** is the sum of
its item scores. Statistics are descriptive: exact fractions while summing, floats in the
results, nothing rounded (only ``to_csv`` rounds, to 3 decimals).

Per item (``ItemStats``):

- ``n``: the responses to the item; ``p`` (facility): their mean score;
- ``discrimination``: the *corrected* point-biserial, i.e. the Pearson correlation between
  the item score and the total of the OTHER items of the same attempt (rest score), over the
  attempts that answered the item; with partial credit it is the plain Pearson correlation.
  ``None`` when undefined: fewer than 2 responses, or either variable has zero variance;
- ``upper_lower``: p in the upper group minus p in the lower group (see *Groups*); ``None``
  when either group has no response to the item;
- ``distractors``: one ``OptionStats`` per option id chosen by someone or in the key (sorted
  by id): the share of the upper, middle and lower groups' responses to the item whose choice
  includes the option. Several options may be chosen at once, so shares may sum past 1;
  a share is ``None`` when the group has no response to the item (e.g. an empty middle group);
- ``mean_seconds``: the mean of the known times (``None`` ones ignored);
- ``flags``: French labels, in the order of ``FLAGS``:
  « trop difficile » when p < 0,2; « trop facile » when p > 0,95; « peu discriminante »
  when the corrected point-biserial is < 0,1 (an undefined one is not flagged: the item is
  then constant, which the facility flags already say, or the rest score is); « distracteur »
  when a non-key option is chosen by a larger share of the upper group than a key option
  (than the least chosen key option when the key has several).

Groups: attempts are ranked by total, highest first; **ties are broken by ``attempt_id``,
the smaller id ranking higher** (so the result does not depend on input order). The upper
group is the first g attempts, the lower group the last g, the middle group the rest, with
g = round(0.27 × N) rounded half up on the exact value, at least 1 (N attempts). The groups
overlap only when N = 1.

Per form (``FormStats``): N attempts, k items, mean and standard deviation of the totals
(population: divided by N), and the reliability:

- KR-20 = k/(k−1) · (1 − Σ p_i·q_i / σ²_total) when every score is 0 or 1;
- Cronbach's alpha = k/(k−1) · (1 − Σ σ²_i / σ²_total) as soon as a score is partial
  (``reliability_method`` says which; for 0/1 scores both give the same value);

population variances throughout. ``None`` when k < 2, σ²_total = 0, or the design is
incomplete (some attempt lacks some item, as happens when items are drawn from a larger
bank): these coefficients need every attempt to answer every item.
"""

import csv
import io
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from statistics import fmean

__all__ = [
    "ALPHA",
    "CSV_HEADER",
    "D_MIN",
    "FLAGS",
    "FLAG_DISTRACTOR",
    "FLAG_LOW_DISCRIMINATION",
    "FLAG_TOO_EASY",
    "FLAG_TOO_HARD",
    "GROUP_SHARE",
    "KR20",
    "P_MAX",
    "P_MIN",
    "AnalysisReport",
    "FormStats",
    "ItemResponse",
    "ItemStats",
    "OptionStats",
    "analyse_items",
    "group_size",
    "to_csv",
]

P_MIN = Fraction(1, 5)  # below: too difficult
P_MAX = Fraction(19, 20)  # above: too easy
D_MIN = 0.1  # corrected point-biserial below: poorly discriminating
GROUP_SHARE = Fraction(27, 100)  # upper and lower groups

FLAG_TOO_HARD = "trop difficile (p < 0,2)"
FLAG_TOO_EASY = "trop facile (p > 0,95)"
FLAG_LOW_DISCRIMINATION = "peu discriminante (< 0,1)"
FLAG_DISTRACTOR = "distracteur plus choisi que la clé par le groupe fort"
FLAGS = (FLAG_TOO_HARD, FLAG_TOO_EASY, FLAG_LOW_DISCRIMINATION, FLAG_DISTRACTOR)

KR20 = "KR-20"
ALPHA = "alpha de Cronbach"


@dataclass(frozen=True)
class ItemResponse:
    """The scored response of one attempt to one item."""

    attempt_id: int
    question_id: str
    score: Fraction  # 0..1 (partial credit possible)
    choice: tuple[str, ...]  # option ids chosen ((), if none; numeric: ())
    key: tuple[str, ...]  # the correct option ids (() for numeric)
    seconds: float | None  # time spent on the item if known


@dataclass(frozen=True)
class OptionStats:
    """Share of each group's responses to the item that include this option."""

    option_id: str
    is_key: bool
    upper: float | None
    middle: float | None
    lower: float | None


@dataclass(frozen=True)
class ItemStats:
    question_id: str
    n: int
    p: float  # facility: mean score
    discrimination: float | None  # corrected point-biserial
    upper_lower: float | None  # p(upper 27 %) − p(lower 27 %)
    distractors: tuple[OptionStats, ...]
    mean_seconds: float | None
    flags: tuple[str, ...]


@dataclass(frozen=True)
class FormStats:
    n: int  # attempts
    k: int  # items
    mean: float | None  # of the totals
    sd: float | None  # population standard deviation of the totals
    reliability: float | None
    reliability_method: str | None  # KR20 or ALPHA (None without any item)
    complete: bool  # every attempt answered every item


@dataclass(frozen=True)
class AnalysisReport:
    form: FormStats
    items: tuple[ItemStats, ...]  # sorted by question_id
    group_size: int  # g attempts in each of the upper and lower groups
    upper_group: tuple[int, ...]  # attempt ids, best first
    middle_group: tuple[int, ...]
    lower_group: tuple[int, ...]


# ---------------------------------------------------------------- exact helpers


def _mean(values: Sequence[Fraction]) -> Fraction:
    return sum(values, Fraction(0)) / len(values)


def _variance(values: Sequence[Fraction]) -> Fraction:
    """Population variance (divided by n), exact."""
    mean = _mean(values)
    return sum(((v - mean) ** 2 for v in values), Fraction(0)) / len(values)


def _pearson(xs: Sequence[Fraction], ys: Sequence[Fraction]) -> float | None:
    """Pearson correlation; ``None`` when undefined (n < 2 or a constant variable)."""
    if len(xs) < 2:
        return None
    mx, my = _mean(xs), _mean(ys)
    sxy = sum(((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)), Fraction(0))
    sxx = sum(((x - mx) ** 2 for x in xs), Fraction(0))
    syy = sum(((y - my) ** 2 for y in ys), Fraction(0))
    if sxx == 0 or syy == 0:
        return None
    return math.copysign(math.sqrt(sxy * sxy / (sxx * syy)), sxy)


def group_size(n_attempts: int) -> int:
    """round(0.27 × N), half up, at least 1; 0 without attempts."""
    if n_attempts <= 0:
        return 0
    return max(1, math.floor(GROUP_SHARE * n_attempts + Fraction(1, 2)))


# ---------------------------------------------------------------- analysis


def _checked(responses: Iterable[ItemResponse]) -> list[ItemResponse]:
    seen: set[tuple[int, str]] = set()
    keys: dict[str, frozenset[str]] = {}
    checked = []
    for response in responses:
        pair = (response.attempt_id, response.question_id)
        if pair in seen:
            raise ValueError(
                f"réponse en double : tentative {response.attempt_id}, "
                f"question « {response.question_id} »"
            )
        seen.add(pair)
        if not 0 <= response.score <= 1:
            raise ValueError(
                f"score hors de [0 ; 1] : tentative {response.attempt_id}, "
                f"question « {response.question_id} » ({response.score})"
            )
        key = frozenset(response.key)
        if keys.setdefault(response.question_id, key) != key:
            raise ValueError(f"clés différentes pour la question « {response.question_id} »")
        checked.append(response)
    return checked


def _share(group: Sequence[ItemResponse], option_id: str) -> float | None:
    if not group:
        return None
    return sum(1 for r in group if option_id in r.choice) / len(group)


def _group_p(group: Sequence[ItemResponse]) -> Fraction | None:
    return _mean([Fraction(r.score) for r in group]) if group else None


def _item_stats(
    question_id: str,
    responses: Sequence[ItemResponse],
    totals: dict[int, Fraction],
    groups: tuple[frozenset[int], frozenset[int], frozenset[int]],
) -> ItemStats:
    scores = [Fraction(r.score) for r in responses]
    p = _mean(scores)
    discrimination = _pearson(
        scores, [totals[r.attempt_id] - s for r, s in zip(responses, scores, strict=True)]
    )
    upper, middle, lower = ([r for r in responses if r.attempt_id in group] for group in groups)
    p_upper, p_lower = _group_p(upper), _group_p(lower)
    upper_lower = None if p_upper is None or p_lower is None else float(p_upper - p_lower)

    key = set(responses[0].key)
    option_ids = sorted(key.union(*(r.choice for r in responses)))
    distractors = tuple(
        OptionStats(
            option_id,
            option_id in key,
            _share(upper, option_id),
            _share(middle, option_id),
            _share(lower, option_id),
        )
        for option_id in option_ids
    )

    times = [r.seconds for r in responses if r.seconds is not None]

    flags = []
    if p < P_MIN:
        flags.append(FLAG_TOO_HARD)
    if p > P_MAX:
        flags.append(FLAG_TOO_EASY)
    if discrimination is not None and discrimination < D_MIN:
        flags.append(FLAG_LOW_DISCRIMINATION)
    key_shares = [o.upper for o in distractors if o.is_key and o.upper is not None]
    wrong_shares = [o.upper for o in distractors if not o.is_key and o.upper is not None]
    if key_shares and wrong_shares and max(wrong_shares) > min(key_shares):
        flags.append(FLAG_DISTRACTOR)

    return ItemStats(
        question_id=question_id,
        n=len(responses),
        p=float(p),
        discrimination=discrimination,
        upper_lower=upper_lower,
        distractors=distractors,
        mean_seconds=fmean(times) if times else None,
        flags=tuple(flags),
    )


def _form_stats(by_item: dict[str, list[ItemResponse]], totals: dict[int, Fraction]) -> FormStats:
    n, k = len(totals), len(by_item)
    complete = all(len(responses) == n for responses in by_item.values())
    if not n:
        return FormStats(0, k, None, None, None, None, complete)
    all_scores = [Fraction(r.score) for rs in by_item.values() for r in rs]
    dichotomous = all(s in (0, 1) for s in all_scores)
    method = (KR20 if dichotomous else ALPHA) if k else None
    total_values = list(totals.values())
    total_variance = _variance(total_values)
    reliability = None
    if complete and k >= 2 and total_variance > 0:
        item_variances = Fraction(0)
        for responses in by_item.values():
            scores = [Fraction(r.score) for r in responses]
            if dichotomous:  # KR-20: p·q
                p = _mean(scores)
                item_variances += p * (1 - p)
            else:  # alpha: the item's population variance
                item_variances += _variance(scores)
        reliability = float(Fraction(k, k - 1) * (1 - item_variances / total_variance))
    return FormStats(
        n=n,
        k=k,
        mean=float(_mean(total_values)),
        sd=math.sqrt(total_variance),
        reliability=reliability,
        reliability_method=method,
        complete=complete,
    )


def analyse_items(responses: Iterable[ItemResponse]) -> AnalysisReport:
    """Item and form statistics of the responses (see the module docstring).

    Raises ``ValueError`` on a duplicate (attempt, item), a score outside [0, 1] or an item
    whose responses carry different keys.
    """
    checked = _checked(responses)
    by_item: dict[str, list[ItemResponse]] = defaultdict(list)
    totals: dict[int, Fraction] = defaultdict(Fraction)
    for response in checked:
        by_item[response.question_id].append(response)
        totals[response.attempt_id] += Fraction(response.score)
    by_item = {qid: sorted(rs, key=lambda r: r.attempt_id) for qid, rs in sorted(by_item.items())}

    ranking = sorted(totals, key=lambda a: (-totals[a], a))
    g = group_size(len(ranking))
    upper, lower = tuple(ranking[:g]), tuple(ranking[len(ranking) - g :])
    middle = tuple(ranking[g : len(ranking) - g])
    groups = (frozenset(upper), frozenset(middle), frozenset(lower))

    items = tuple(_item_stats(qid, responses, totals, groups) for qid, responses in by_item.items())
    return AnalysisReport(
        form=_form_stats(by_item, totals),
        items=items,
        group_size=g,
        upper_group=upper,
        middle_group=middle,
        lower_group=lower,
    )


# ---------------------------------------------------------------- CSV

CSV_HEADER = (
    "Question",
    "N",
    "Facilité (p)",
    "Discrimination (point-bisériale corrigée)",
    "Indice haut-bas (27 %)",
    "Temps moyen (s)",
    "Signalements",
)


def _fr(value: float | None) -> str:
    """0.25 → « 0,250 »; None → « »."""
    if value is None:
        return ""
    text = f"{value:.3f}"
    if text == "-0.000":
        text = "0.000"
    return text.replace(".", ",")


def _csv_text(value: str) -> str:
    """Free text as a CSV cell Excel never runs as a formula (« =… » → « '=… »)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def to_csv(report: AnalysisReport) -> bytes:
    """French Excel CSV: UTF-8 with BOM, `;`, decimal comma (3 decimals), CRLF.

    A header row (``CSV_HEADER``), one row per item (flags joined by « | »), then, after an
    empty row, the form's figures.
    """
    rows: list[list[str]] = [list(CSV_HEADER)]
    for item in report.items:
        rows.append(
            [
                _csv_text(item.question_id),
                str(item.n),
                _fr(item.p),
                _fr(item.discrimination),
                _fr(item.upper_lower),
                _fr(item.mean_seconds),
                " | ".join(item.flags),
            ]
        )
    form = report.form
    rows += [
        [],
        ["Copies", str(form.n)],
        ["Questions", str(form.k)],
        ["Score total moyen", _fr(form.mean)],
        ["Écart-type du score total", _fr(form.sd)],
        [f"Fidélité ({form.reliability_method or KR20})", _fr(form.reliability)],
        ["Effectif des groupes fort et faible (27 %)", str(report.group_size)],
    ]
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";", lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode("utf-8-sig")
