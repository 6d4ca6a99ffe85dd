"""Coverage counts of a bank, and `ccpq banks stats`."""

from datetime import date

from app.banks.format import ThemeCatalog, parse_bank_bytes
from app.banks.stats import bank_stats, format_stats
from app.referential.model import default_referential
from tests.banks.samples import VALID_BANK

CATALOG = ThemeCatalog.from_referential(default_referential())


def document():
    return parse_bank_bytes(VALID_BANK.encode(), filename="b", catalog=CATALOG, max_bytes=10**6)


class TestBankStats:
    def test_counts(self):
        stats = bank_stats(document(), on_date=date(2026, 9, 1))
        assert stats.items == 4 and stats.with_reference == 1
        assert [(t.topic, t.items, t.valid_on_date, t.quota) for t in stats.topics] == [
            ("bareme", 2, 2, None),
            ("epargne", 2, 1, None),  # q-nombre ended on 2026-06-30
        ]
        assert stats.types == {
            "single_choice": 1,
            "multiple_choice": 1,
            "true_false": 1,
            "numeric": 1,
        }
        assert stats.difficulties == {1: 2, 2: 1, 3: 1}

    def test_report(self):
        lines = format_stats(bank_stats(document(), on_date=date(2026, 9, 1)))
        assert lines == [
            "essai 2026.1 : 4 questions, 1 avec référence",
            "  sujet    questions  valides le 01/09/2026  quota",
            "  bareme           2                    2      -",
            "  epargne          2                    1      -",
            "  types : choix unique 1, choix multiple 1, vrai/faux 1, numérique 1",
            "  difficulté : 1 : 2, 2 : 1, 3 : 1",
        ]


def test_cli_stats(run, tmp_path):
    path = tmp_path / "essai.yaml"
    path.write_text(VALID_BANK, encoding="utf-8")
    code, out, _ = run("banks", "stats", str(path), "--date", "2026-09-01")
    assert code == 0
    assert out.splitlines()[0] == "essai 2026.1 : 4 questions, 1 avec référence"
    assert out.splitlines()[-1] == "  difficulté : 1 : 2, 2 : 1, 3 : 1"
