"""The enrolment CSV: every bad row reported with its line, nothing accepted otherwise."""

import pytest

from app.sessions.enrolment_csv import EnrolmentCsvError, parse_enrolment_csv

GOOD = "nom;prénom;email;numéro de candidat\nDupont;Marie;Marie.Dupont@example.fr;C-001\n"


def problems(text: str | bytes) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    with pytest.raises(EnrolmentCsvError) as caught:
        parse_enrolment_csv(data, filename="inscrits.csv")
    return caught.value.problems


class TestParse:
    def test_french_excel_file(self):
        [row] = parse_enrolment_csv(("\ufeff" + GOOD).encode(), filename="f.csv")
        assert (row.line, row.last_name, row.first_name, row.email, row.candidate_number) == (
            2,
            "Dupont",
            "Marie",
            "marie.dupont@example.fr",
            "C-001",
        )
        assert row.display_name == "Marie Dupont"

    def test_comma_separator_and_header_case(self):
        text = "Nom,Prénom,Email,Numéro de candidat\nMartin,Paul,paul@example.fr,C-002\n"
        [row] = parse_enrolment_csv(text.encode(), filename="f.csv")
        assert row.candidate_number == "C-002"

    def test_every_bad_row_is_reported(self):
        text = GOOD + "Durand;;jean@example;C-002\n\nLeroy;Anne;anne@example.fr;C-001\n"
        assert problems(text) == [
            "inscrits.csv:3: prénom manquant ; email invalide « jean@example »",
            "inscrits.csv:5: numéro C-001 déjà utilisé ligne 2",
        ]

    def test_missing_column(self):
        assert problems("nom;prénom;email\nA;B;c@d.fr\n") == [
            "inscrits.csv:1: colonne(s) manquante(s) : numéro de candidat (attendu : "
            "nom;prénom;email;numéro de candidat)"
        ]

    def test_not_utf8(self):
        assert problems(GOOD.replace("prénom", "pr\xe9nom").encode("latin-1")) == [
            "inscrits.csv:1: le fichier n'est pas encodé en UTF-8 : enregistrez-le en « CSV UTF-8 »"
        ]

    def test_empty(self):
        assert problems("") == ["inscrits.csv:1: fichier vide"]
        assert problems("nom;prénom;email;numéro de candidat\n") == [
            "inscrits.csv:2: aucun candidat dans le fichier"
        ]
