"""The four banks shipped in question_banks/: coverage, sources, validity, blueprints."""

from collections import Counter
from datetime import date
from pathlib import Path
from urllib.parse import urlparse

import pytest

from app.banks.format import ThemeCatalog, parse_bank_file
from app.banks.stats import is_valid_on
from app.referential.model import default_referential

BANKS_DIR = Path(__file__).resolve().parents[2] / "question_banks"
CATALOG = ThemeCatalog.from_referential(default_referential())
MIN_ITEMS, MIN_PER_TOPIC = 80, 5
# A date when sessions of the 2026 banks take place.
SESSION_DATE = date(2026, 12, 15)
OFFICIAL_DOMAINS = {
    "www.legifrance.gouv.fr",
    "legifrance.gouv.fr",
    "eur-lex.europa.eu",
    "www.service-public.fr",
    "www.service-public.gouv.fr",
    "entreprendre.service-public.gouv.fr",
    "www.impots.gouv.fr",
    "bofip.impots.gouv.fr",
    "www.amf-france.org",
    "acpr.banque-france.fr",
    "www.banque-france.fr",
    "banque-france.fr",
    "particuliers.banque-france.fr",
    "www.cnil.fr",
    "cnil.fr",
    "www.economie.gouv.fr",
    "www.vie-publique.fr",
    "www.assemblee-nationale.fr",
    "www.senat.fr",
    "www.garantiedesdepots.fr",
    "www.tresor.economie.gouv.fr",
    "www.hcsf.fr",
    "www.orias.fr",
    "www.aeras-infos.fr",
    "www.edpb.europa.eu",
    "edpb.europa.eu",
    "www.esma.europa.eu",
    "www.eba.europa.eu",
    "www.mesdroitsbancaires.fr",
    "www.bloctel.gouv.fr",
    "www.mesquestionsdargent.fr",
}

BANKS = {
    path.stem: parse_bank_file(path, catalog=CATALOG, max_bytes=2 * 1024 * 1024)
    for path in sorted(BANKS_DIR.glob("*.yaml"))
}


def test_the_four_themes_are_shipped():
    assert sorted((bank.id, bank.theme) for bank in BANKS.values()) == [
        ("fiscalite", "fiscalite"),
        ("reglementation", "reglementation"),
        ("rgpd", "rgpd"),
        ("risques", "risques"),
    ]


@pytest.mark.parametrize("bank_id", sorted(BANKS))
class TestEachBank:
    def test_enough_items(self, bank_id):
        assert len(BANKS[bank_id].questions) >= MIN_ITEMS

    def test_every_topic_has_enough_items(self, bank_id):
        bank = BANKS[bank_id]
        counts = Counter(q.topic for q in bank.questions)
        thin = {topic: counts[topic] for topic in bank.topics if counts[topic] < MIN_PER_TOPIC}
        assert thin == {}

    def test_type_mix(self, bank_id):
        counts = Counter(q.type for q in BANKS[bank_id].questions)
        total = sum(counts.values())
        assert counts["single_choice"] / total >= 0.5  # mostly single choice
        assert min(counts["multiple_choice"], counts["true_false"], counts["numeric"]) >= 4

    def test_every_item_is_sourced(self, bank_id):
        unsourced = [q.id for q in BANKS[bank_id].questions if not q.references]
        assert unsourced == []

    def test_reference_urls_are_official(self, bank_id):
        foreign = sorted(
            {
                urlparse(ref.url).hostname
                for q in BANKS[bank_id].questions
                for ref in q.references
                if ref.url
            }
            - OFFICIAL_DOMAINS
        )
        assert foreign == []

    def test_every_item_has_validity_dates_within_2026(self, bank_id):
        bad = [
            q.id
            for q in BANKS[bank_id].questions
            if q.valid_until is None
            or q.valid_until > date(2026, 12, 31)
            or q.valid_from < date(2026, 1, 1)
        ]
        assert bad == []

    def test_no_catch_all_option(self, bank_id):
        catch_all = [
            q.id
            for q in BANKS[bank_id].questions
            for option in getattr(q, "options", ())
            if "toutes les réponses" in option.text.lower()
            or "aucune des réponses" in option.text.lower()
        ]
        assert catch_all == []

    def test_blueprint_can_be_drawn_at_session_date(self, bank_id):
        bank = BANKS[bank_id]
        blueprint = bank.blueprint
        assert blueprint is not None
        assert sum(blueprint.quotas.values()) == blueprint.item_count
        assert set(blueprint.quotas) == set(bank.topics)  # every form covers the programme
        valid = Counter(q.topic for q in bank.questions if is_valid_on(q, SESSION_DATE))
        # At most half of a topic's valid items per form, so that two forms differ.
        short = {t: (n, valid[t]) for t, n in blueprint.quotas.items() if 2 * n > valid[t]}
        assert short == {}

    def test_changelog_records_the_review(self, bank_id):
        assert "revue" in BANKS[bank_id].changelog[0].summary.lower()
