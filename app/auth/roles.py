"""The four roles of ccpq and their French labels."""

from enum import StrEnum


class Role(StrEnum):
    CANDIDAT = "candidat"
    FORMATEUR = "formateur"
    JURY = "jury"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.CANDIDAT: "Candidat",
    Role.FORMATEUR: "Formateur",
    Role.JURY: "Membre du jury",
    Role.ADMIN: "Administrateur",
}
