"""The seeded draw and the deadline arithmetic (pure functions)."""

from datetime import UTC, datetime

import pytest

from app.attempts.draw import DrawError, draw
from app.attempts.timing import accepts_saves, deadline, remaining_seconds

ELIGIBLE = {"a": ["a1", "a2", "a3", "a4"], "b": ["b1", "b2", "b3"]}
OPTIONS = {qid: ["x", "y", "z", "w"] for ids in ELIGIBLE.values() for qid in ids}


def drawn(seed: str, **kwargs):
    params = dict(
        seed=seed,
        eligible=ELIGIBLE,
        quotas={"a": 2, "b": 1},
        options=OPTIONS,
        shuffle_questions=True,
        shuffle_options=True,
    )
    params.update(kwargs)
    return draw(**params)


class TestDraw:
    def test_quotas_are_respected(self):
        for seed in map(str, range(50)):
            ids = [item.question_id for item in drawn(seed)]
            assert len(ids) == 3 and len(set(ids)) == 3
            assert sum(i.startswith("a") for i in ids) == 2

    def test_same_seed_same_draw_whatever_the_input_order(self):
        reversed_input = {k: list(reversed(v)) for k, v in reversed(ELIGIBLE.items())}
        assert drawn("s1") == drawn("s1", eligible=reversed_input)

    def test_seeds_vary_the_forms_and_option_orders(self):
        forms = {tuple(i.question_id for i in drawn(str(seed))) for seed in range(30)}
        orders = {drawn(str(seed))[0].option_order for seed in range(30)}
        assert len(forms) > 5 and len(orders) > 5

    def test_no_shuffle_keeps_author_order(self):
        items = drawn("s", shuffle_options=False)
        assert all(item.option_order == ("x", "y", "z", "w") for item in items)

    def test_numeric_question_has_no_option_order(self):
        items = draw(
            seed="s",
            eligible={"a": ["n1"]},
            quotas={"a": 1},
            options={},
            shuffle_questions=True,
            shuffle_options=True,
        )
        assert items[0].option_order is None

    def test_not_enough_questions(self):
        with pytest.raises(DrawError, match="le sujet « b » n'a que 3 question\\(s\\) valide"):
            drawn("s", quotas={"b": 4})


START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CLOSE = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


class TestTiming:
    @pytest.mark.parametrize(
        ("extra", "beyond", "expected"),
        [
            (0, True, datetime(2026, 12, 1, 9, 45, tzinfo=UTC)),
            (33, True, datetime(2026, 12, 1, 9, 59, 51, tzinfo=UTC)),
            (100, True, datetime(2026, 12, 1, 10, 30, tzinfo=UTC)),
            (100, False, CLOSE),
        ],
    )
    def test_deadline(self, extra, beyond, expected):
        assert (
            deadline(
                started_at=START,
                duration_minutes=45,
                extra_time_percent=extra,
                closes_at=CLOSE,
                accommodated_beyond_close=beyond,
            )
            == expected
        )

    def test_late_start_is_cut_at_closing(self):
        late = datetime(2026, 12, 1, 9, 50, tzinfo=UTC)
        assert (
            deadline(
                started_at=late,
                duration_minutes=45,
                extra_time_percent=0,
                closes_at=CLOSE,
                accommodated_beyond_close=True,
            )
            == CLOSE
        )

    def test_grace(self):
        end = datetime(2026, 12, 1, 9, 45, tzinfo=UTC)
        assert accepts_saves(deadline_at=end, now=end.replace(second=10), grace_seconds=10)
        assert not accepts_saves(deadline_at=end, now=end.replace(second=11), grace_seconds=10)
        assert remaining_seconds(deadline_at=end, now=end.replace(minute=50)) == 0
