"""Small bank files for the tests, written as an author would write them."""

VALID_BANK = """\
id: essai
title: Banque d'essai
theme: fiscalite
competences: [C9]
version: "2026.1"
valid_from: 2026-01-01
valid_until: 2026-12-31
authors: [Équipe pédagogique]
changelog:
  - version: "2026.1"
    date: 2026-01-05
    summary: Première version.
topics:
  bareme: Barème de l'impôt
  epargne: Épargne réglementée
questions:
  - id: q-choix
    type: single_choice
    topic: bareme
    difficulty: 1
    stem: Quel est le taux de la première tranche imposée ?
    options:
      - id: a
        text: 11 %
        correct: true
      - id: b
        text: 30 %
    explanation: La première tranche imposée l'est à 11 %.
    references:
      - label: CGI, art. 197
        url: https://www.legifrance.gouv.fr/codes/article_lc/LEGIARTI000051212954
  - id: q-multiple
    type: multiple_choice
    topic: epargne
    difficulty: 2
    stem: Lesquels sont des livrets réglementés ?
    options:
      - {id: a, text: Livret A, correct: true}
      - {id: b, text: LDDS, correct: true}
      - {id: c, text: Compte courant}
    explanation: Le compte courant n'est pas un livret.
  - id: q-vrai-faux
    type: true_false
    topic: bareme
    difficulty: 1
    stem: Le barème est progressif.
    answer: true
    explanation: Le taux croît par tranches.
  - id: q-nombre
    type: numeric
    topic: epargne
    difficulty: 3
    stem: Taux en pourcentage ?
    answer: 17.20
    tolerance: 0
    unit: "%"
    explanation: Exactement 17,2 %.
    valid_until: 2026-06-30
"""
