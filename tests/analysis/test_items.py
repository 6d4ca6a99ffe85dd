"""Item analysis checked against the formulas written again, plainly, in the test."""

import csv
import io
import math
from dataclasses import FrozenInstanceError
from fractions import Fraction

import pytest

from app.analysis.items import (
    ALPHA,
    FLAG_DISTRACTOR,
    FLAG_LOW_DISCRIMINATION,
    FLAG_TOO_EASY,
    FLAG_TOO_HARD,
    KR20,
    AnalysisReport,
    ItemResponse,
    analyse_items,
    group_size,
    to_csv,
)

# ---------------------------------------------------------------- the synthetic data set
#
# 12 attempts × 5 items, all dichotomous:
# - Q1 (key A): everyone right;
# - Q2 (key B): nobody right, the distractors A, C, D chosen;
# - Q3 (key A): the trap — the strong candidates prefer the distractor C;
# - Q4 (key B): a well-behaved item, right for the 7 best;
# - Q5: numeric (no options).
#
# Totals: a3 = 4; a1, a2, a4, a5, a6, a7 = 3; a8 = 2; a9, a10, a11, a12 = 1. With g = 3,
# the upper group is a3 then a1, a2 (ties at 3 broken by the smaller id), the lower group
# a10, a11, a12 (ties at 1: the larger ids rank lower).

ATTEMPTS = range(1, 13)
Q2_CHOICES = {1: "C", 2: "A", 3: "A", 4: "D", 5: "C", 6: "A", 7: "", 8: "D", 9: "C", 10: "A",
              11: "D", 12: ""}  # fmt: skip
Q3_CHOICES = {1: "C", 2: "C", 3: "A", 4: "A", 5: "C", 6: "A", 7: "C", 8: "A", 9: "B", 10: "B",
              11: "C", 12: ""}  # fmt: skip
Q4_CHOICES = {1: "B", 2: "B", 3: "B", 4: "B", 5: "B", 6: "B", 7: "B", 8: "A", 9: "C", 10: "D",
              11: "A", 12: ""}  # fmt: skip
Q5_RIGHT = {1, 2, 3, 5, 7}
Q4_SECONDS = {1: 30.0, 2: None, 3: 45.5, 4: 20.0, 5: None, 6: 61.0, 7: 12.5, 8: 90.0, 9: None,
              10: 33.0, 11: 8.0, 12: None}  # fmt: skip


def _choice(letter: str) -> tuple[str, ...]:
    return (letter,) if letter else ()


def _choice_response(attempt, qid, letter, key, seconds=None):
    return ItemResponse(
        attempt_id=attempt,
        question_id=qid,
        score=Fraction(int(letter == key)),
        choice=_choice(letter),
        key=(key,),
        seconds=seconds,
    )


def dataset() -> list[ItemResponse]:
    responses = []
    for a in ATTEMPTS:
        responses += [
            _choice_response(a, "Q1", "A", "A", None if a == 12 else 10.0),
            _choice_response(a, "Q2", Q2_CHOICES[a], "B"),
            _choice_response(a, "Q3", Q3_CHOICES[a], "A"),
            _choice_response(a, "Q4", Q4_CHOICES[a], "B", Q4_SECONDS[a]),
            ItemResponse(a, "Q5", Fraction(int(a in Q5_RIGHT)), (), (), None),
        ]
    return responses


# ---------------------------------------------------------------- the formulas, again


def score_matrix(responses):
    """{attempt: {item: float score}}"""
    matrix: dict[int, dict[str, float]] = {}
    for r in responses:
        matrix.setdefault(r.attempt_id, {})[r.question_id] = float(r.score)
    return matrix


def pearson(xs, ys):
    n = len(xs)
    mean_x = sum(xs) / n
    mean_y = sum(ys) / n
    cov = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    var_x = sum((x - mean_x) ** 2 for x in xs)
    var_y = sum((y - mean_y) ** 2 for y in ys)
    return cov / math.sqrt(var_x * var_y)


def corrected_point_biserial(matrix, qid):
    xs = [row[qid] for row in matrix.values()]
    rest = [sum(row.values()) - row[qid] for row in matrix.values()]
    return pearson(xs, rest)


def population_variance(values):
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / len(values)


def kr20(matrix):
    items = sorted(next(iter(matrix.values())))
    k = len(items)
    totals = [sum(row.values()) for row in matrix.values()]
    sum_pq = 0.0
    for qid in items:
        p = sum(row[qid] for row in matrix.values()) / len(matrix)
        sum_pq += p * (1 - p)
    return k / (k - 1) * (1 - sum_pq / population_variance(totals))


def cronbach_alpha(matrix):
    items = sorted(next(iter(matrix.values())))
    k = len(items)
    totals = [sum(row.values()) for row in matrix.values()]
    item_variances = sum(population_variance([row[q] for row in matrix.values()]) for q in items)
    return k / (k - 1) * (1 - item_variances / population_variance(totals))


@pytest.fixture(scope="module")
def report() -> AnalysisReport:
    return analyse_items(dataset())


def _item(report, qid):
    return next(i for i in report.items if i.question_id == qid)


# ---------------------------------------------------------------- groups


@pytest.mark.parametrize(
    ("n", "g"),
    [(0, 0), (1, 1), (2, 1), (3, 1), (4, 1), (6, 2), (10, 3), (12, 3), (50, 14), (100, 27)],
)
def test_group_size_is_27_percent_rounded_half_up_at_least_one(n, g):
    assert group_size(n) == g


def test_groups_rank_by_total_then_by_attempt_id(report):
    assert report.group_size == 3
    assert report.upper_group == (3, 1, 2)
    assert report.middle_group == (4, 5, 6, 7, 8, 9)
    assert report.lower_group == (10, 11, 12)


def test_input_order_does_not_matter(report):
    assert analyse_items(reversed(dataset())) == report


def test_a_single_attempt_is_both_upper_and_lower():
    result = analyse_items([ItemResponse(7, "Q1", Fraction(1), ("A",), ("A",), 3.0)])
    assert (result.upper_group, result.middle_group, result.lower_group) == ((7,), (), (7,))
    (option,) = result.items[0].distractors
    assert (option.upper, option.middle, option.lower) == (1.0, None, 1.0)
    assert result.items[0].upper_lower == 0.0


# ---------------------------------------------------------------- per item


def test_items_sorted_with_counts_and_facility(report):
    matrix = score_matrix(dataset())
    assert [i.question_id for i in report.items] == ["Q1", "Q2", "Q3", "Q4", "Q5"]
    for item in report.items:
        expected = sum(row[item.question_id] for row in matrix.values()) / len(matrix)
        assert item.n == 12
        assert item.p == pytest.approx(expected)
    assert _item(report, "Q1").p == 1.0
    assert _item(report, "Q2").p == 0.0


@pytest.mark.parametrize("qid", ["Q3", "Q4", "Q5"])
def test_discrimination_is_the_corrected_point_biserial(report, qid):
    expected = corrected_point_biserial(score_matrix(dataset()), qid)
    assert _item(report, qid).discrimination == pytest.approx(expected, abs=1e-12)


def test_discrimination_values_by_hand(report):
    # Q3: those right have a mean rest score of 2, those wrong too: no correlation at all.
    assert _item(report, "Q3").discrimination == 0.0
    assert _item(report, "Q4").discrimination > 0.5


def test_constant_items_have_no_discrimination(report):
    assert _item(report, "Q1").discrimination is None
    assert _item(report, "Q2").discrimination is None


def test_constant_rest_score_gives_no_discrimination():
    responses = []
    for a, score in ((1, 1), (2, 0), (3, 1)):
        responses += [
            ItemResponse(a, "varies", Fraction(score), (), (), None),
            ItemResponse(a, "always", Fraction(1), (), (), None),
        ]
    result = analyse_items(responses)
    assert _item(result, "varies").discrimination is None  # rest = "always": constant
    assert _item(result, "always").discrimination is None  # the item itself is constant


def test_upper_lower_index(report):
    matrix = score_matrix(dataset())

    def group_p(qid, group):
        return sum(matrix[a][qid] for a in group) / len(group)

    for item in report.items:
        expected = group_p(item.question_id, (3, 1, 2)) - group_p(item.question_id, (10, 11, 12))
        assert item.upper_lower == pytest.approx(expected)
    assert _item(report, "Q4").upper_lower == 1.0
    assert _item(report, "Q3").upper_lower == pytest.approx(1 / 3)


def test_distractor_shares_per_group(report):
    shares = {
        o.option_id: (o.is_key, o.upper, o.middle, o.lower) for o in _item(report, "Q3").distractors
    }
    assert shares == {
        "A": (True, pytest.approx(1 / 3), pytest.approx(3 / 6), 0.0),
        "B": (False, 0.0, pytest.approx(1 / 6), pytest.approx(1 / 3)),
        "C": (False, pytest.approx(2 / 3), pytest.approx(2 / 6), pytest.approx(1 / 3)),
    }


def test_options_seen_or_in_the_key_only(report):
    assert [o.option_id for o in _item(report, "Q1").distractors] == ["A"]
    q2 = {o.option_id: o for o in _item(report, "Q2").distractors}
    assert sorted(q2) == ["A", "B", "C", "D"]  # B: the key, chosen by no one
    assert (q2["B"].is_key, q2["B"].upper, q2["B"].middle, q2["B"].lower) == (True, 0, 0, 0)
    assert _item(report, "Q5").distractors == ()


def test_mean_time_ignores_unknown_times(report):
    known = [s for s in Q4_SECONDS.values() if s is not None]
    assert _item(report, "Q4").mean_seconds == pytest.approx(sum(known) / len(known))
    assert _item(report, "Q1").mean_seconds == 10.0
    assert _item(report, "Q5").mean_seconds is None


def test_flags(report):
    assert {i.question_id: i.flags for i in report.items} == {
        "Q1": ("trop facile (p > 0,95)",),
        "Q2": ("trop difficile (p < 0,2)", "distracteur plus choisi que la clé par le groupe fort"),
        "Q3": (
            "peu discriminante (< 0,1)",
            "distracteur plus choisi que la clé par le groupe fort",
        ),
        "Q4": (),
        "Q5": (),
    }
    assert (FLAG_TOO_HARD, FLAG_TOO_EASY, FLAG_LOW_DISCRIMINATION, FLAG_DISTRACTOR) == (
        "trop difficile (p < 0,2)",
        "trop facile (p > 0,95)",
        "peu discriminante (< 0,1)",
        "distracteur plus choisi que la clé par le groupe fort",
    )


def test_facility_flags_are_strict_at_the_thresholds():
    responses = []
    for a in range(1, 21):
        responses += [
            ItemResponse(a, "easy", Fraction(int(a <= 19)), (), (), None),  # p = 0,95
            ItemResponse(a, "hard", Fraction(int(a <= 4)), (), (), None),  # p = 0,2
        ]
    result = analyse_items(responses)
    assert _item(result, "easy").p == pytest.approx(0.95)
    assert _item(result, "hard").p == pytest.approx(0.2)
    assert FLAG_TOO_EASY not in _item(result, "easy").flags
    assert FLAG_TOO_HARD not in _item(result, "hard").flags


def test_distractor_flag_with_several_keys_compares_with_the_least_chosen_key():
    # The upper group (g = 2: attempts 1 and 2) all choose A+C: C (share 1) is chosen as
    # often as key A but more than key B (share 0).
    choices = {1: ("A", "C"), 2: ("A", "C"), 3: ("A", "B"), 4: (), 5: (), 6: ()}
    responses = []
    for a, choice in choices.items():
        score = Fraction(1) if set(choice) == {"A", "B"} else Fraction(0)
        responses += [
            ItemResponse(a, "multi", score, choice, ("B", "A"), None),
            ItemResponse(a, "other", Fraction(int(a <= 2)), (), (), None),
        ]
    result = analyse_items(responses)
    assert result.upper_group == (1, 2)
    assert FLAG_DISTRACTOR in _item(result, "multi").flags


# ---------------------------------------------------------------- per form


def test_form_statistics_and_kr20(report):
    matrix = score_matrix(dataset())
    totals = [sum(row.values()) for row in matrix.values()]
    form = report.form
    assert (form.n, form.k, form.complete) == (12, 5, True)
    assert form.mean == pytest.approx(sum(totals) / 12)
    assert form.mean == pytest.approx(28 / 12)
    assert form.sd == pytest.approx(math.sqrt(population_variance(totals)))
    assert form.reliability_method == KR20
    assert form.reliability == pytest.approx(kr20(matrix))


def test_partial_scores_use_cronbach_alpha():
    half, third = Fraction(1, 2), Fraction(1, 3)
    rows = {
        1: (1, 1, 1),
        2: (1, half, 1),
        3: (half, half, 2 * third),
        4: (1, 0, third),
        5: (0, half, 0),
        6: (0, 0, third),
    }
    responses = [
        ItemResponse(a, f"Q{i}", Fraction(score), (), (), None)
        for a, scores in rows.items()
        for i, score in enumerate(scores, start=1)
    ]
    result = analyse_items(responses)
    assert result.form.reliability_method == ALPHA
    assert result.form.reliability == pytest.approx(cronbach_alpha(score_matrix(responses)))
    q2 = _item(result, "Q2")
    assert q2.p == pytest.approx(2.5 / 6)
    assert q2.discrimination == pytest.approx(
        corrected_point_biserial(score_matrix(responses), "Q2")
    )


def test_kr20_equals_alpha_for_dichotomous_scores(report):
    assert report.form.reliability == pytest.approx(cronbach_alpha(score_matrix(dataset())))


def test_no_reliability_with_a_single_item():
    result = analyse_items(
        [ItemResponse(a, "only", Fraction(a % 2), (), (), None) for a in range(1, 5)]
    )
    assert result.form.k == 1
    assert result.form.reliability is None


def test_no_reliability_without_total_variance():
    # Everyone scores 1 out of 2: σ² of the totals is 0; the items are perfectly opposed.
    responses = []
    for a in range(1, 5):
        responses += [
            ItemResponse(a, "Q1", Fraction(a % 2), (), (), None),
            ItemResponse(a, "Q2", Fraction(1 - a % 2), (), (), None),
        ]
    result = analyse_items(responses)
    assert (result.form.mean, result.form.sd, result.form.reliability) == (1.0, 0.0, None)
    assert _item(result, "Q1").discrimination == pytest.approx(-1.0)


def test_no_reliability_for_an_incomplete_design():
    # Items drawn from a larger bank: not every attempt sees every item.
    seen = {1: ("Q1", "Q2"), 2: ("Q1", "Q3"), 3: ("Q2", "Q3"), 4: ("Q1", "Q2")}
    responses = [
        ItemResponse(a, qid, Fraction(int(a <= 2)), (), (), None)
        for a, qids in seen.items()
        for qid in qids
    ]
    result = analyse_items(responses)
    assert result.form.complete is False
    assert result.form.reliability is None
    assert [i.n for i in result.items] == [3, 3, 2]


def test_no_responses():
    result = analyse_items([])
    assert result.items == ()
    assert (result.form.n, result.form.k, result.form.mean, result.form.sd) == (0, 0, None, None)
    assert result.form.reliability is None
    assert (result.group_size, result.upper_group, result.lower_group) == (0, (), ())


# ---------------------------------------------------------------- input errors


@pytest.mark.parametrize(
    "responses",
    [
        [ItemResponse(1, "Q1", Fraction(1), (), (), None)] * 2,
        [ItemResponse(1, "Q1", Fraction(3, 2), (), (), None)],
        [ItemResponse(1, "Q1", Fraction(-1), (), (), None)],
        [
            ItemResponse(1, "Q1", Fraction(1), ("A",), ("A",), None),
            ItemResponse(2, "Q1", Fraction(0), ("A",), ("B",), None),
        ],
    ],
    ids=["duplicate", "above-one", "negative", "different-keys"],
)
def test_invalid_input_is_refused(responses):
    with pytest.raises(ValueError):
        analyse_items(responses)


def test_results_are_frozen(report):
    with pytest.raises(FrozenInstanceError):
        report.items[0].p = 0.5  # type: ignore[misc]


# ---------------------------------------------------------------- CSV


def _rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


def test_csv_is_french_excel(report):
    data = to_csv(report)
    assert data.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in data
    rows = _rows(data)
    assert rows[0] == [
        "Question",
        "N",
        "Facilité (p)",
        "Discrimination (point-bisériale corrigée)",
        "Indice haut-bas (27 %)",
        "Temps moyen (s)",
        "Signalements",
    ]
    assert [row[0] for row in rows[1:6]] == ["Q1", "Q2", "Q3", "Q4", "Q5"]
    assert rows[1] == ["Q1", "12", "1,000", "", "0,000", "10,000", "trop facile (p > 0,95)"]
    assert rows[3] == [
        "Q3",
        "12",
        "0,333",
        "0,000",
        "0,333",
        "",
        "peu discriminante (< 0,1) | distracteur plus choisi que la clé par le groupe fort",
    ]
    d4 = corrected_point_biserial(score_matrix(dataset()), "Q4")
    known = [s for s in Q4_SECONDS.values() if s is not None]
    mean_time = f"{sum(known) / len(known):.3f}".replace(".", ",")
    assert rows[4] == ["Q4", "12", "0,583", f"{d4:.3f}".replace(".", ","), "1,000", mean_time, ""]


def test_csv_form_figures_after_the_items(report):
    rows = _rows(to_csv(report))
    assert rows[6] == []
    footer = {row[0]: row[1] for row in rows[7:]}
    assert footer["Copies"] == "12"
    assert footer["Questions"] == "5"
    assert footer["Score total moyen"] == "2,333"
    assert footer["Fidélité (KR-20)"] == f"{kr20(score_matrix(dataset())):.3f}".replace(".", ",")
    assert footer["Effectif des groupes fort et faible (27 %)"] == "3"


def test_csv_cells_never_run_as_formulas():
    result = analyse_items([ItemResponse(1, "=1+1", Fraction(1), (), (), None)])
    assert _rows(to_csv(result))[1][0] == "'=1+1"
