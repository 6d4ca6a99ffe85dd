"""Shared data of the interchange tests: fixtures, a bank with the four question types."""

from datetime import date
from pathlib import Path

from app.banks.format import BankDocument, ThemeCatalog, parse_bank_bytes
from app.referential.model import default_referential

FIXTURES = Path(__file__).parent / "fixtures"
CATALOG = ThemeCatalog.from_referential(default_referential())
TODAY = date(2026, 3, 1)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def parse(text: str | bytes) -> BankDocument:
    data = text if isinstance(text, bytes) else text.encode()
    return parse_bank_bytes(data, filename="b.yaml", catalog=CATALOG, max_bytes=10_000_000)


# A bank with the four question types, Markdown, and the characters each format escapes.
ROUND_TRIP_BANK = """\
id: aller-retour
title: Banque aller-retour
theme: fiscalite
competences: [C9]
version: "2026.3"
valid_from: 2026-01-01
authors: [Équipe pédagogique]
changelog:
  - version: "2026.3"
    date: 2026-02-01
    summary: Essai d'aller-retour.
topics:
  bareme: Barème de l'impôt
  epargne: Épargne réglementée
questions:
  - id: q-unique
    type: single_choice
    topic: bareme
    difficulty: 1
    stem: |
      Un célibataire déclare **40 000 €** de revenu imposable
      (revenus 2025).

      Quelle est sa *tranche marginale* ? Indices : {a} ~ b = c # d \\ e
    options:
      - id: a
        text: 11 %
      - id: b
        text: 30 %
        correct: true
      - id: c
        text: "41 % : taux supérieur"
    explanation: |
      Le revenu par part se situe dans la tranche imposée à **30 %**.
    references:
      - label: CGI, art. 197
  - id: q-multiple
    type: multiple_choice
    topic: epargne
    difficulty: 2
    stem: |
      Quels livrets sont réglementés ?

      - cochez toutes les bonnes réponses ;
      - aucune pénalité n'est cachée.
    options:
      - {id: a, text: Livret A, correct: true}
      - {id: b, text: LDDS, correct: true}
      - {id: c, text: "[Compte courant](https://www.service-public.fr/)"}
      - {id: d, text: PEL, correct: true}
    explanation: Le compte courant n'est pas un livret.
  - id: q-vrai-faux
    type: true_false
    topic: bareme
    difficulty: 1
    stem: Le barème de l'impôt sur le revenu est progressif.
    answer: false
    explanation: Il l'est, par tranches ; l'affirmation « dégressif » serait fausse.
  - id: q-nombre
    type: numeric
    topic: epargne
    difficulty: 3
    stem: Taux des prélèvements sociaux sur les intérêts, en pourcentage ?
    answer: 17.2
    tolerance: 0.05
    unit: "%"
    explanation: 17,2 %.
"""
