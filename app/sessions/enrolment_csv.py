"""The enrolment CSV: nom, prénom, email, numéro de candidat. Pure: no DB, no web.

Every bad row is reported with its line, and a file with any bad row is refused whole.
Accepts `;` or `,` separators (French Excel writes `;`), a UTF-8 BOM, any header case.
"""

import csv
import io
import re
from dataclasses import dataclass

MAX_ROWS = 5000
# What the account columns hold: the email becomes the login (64), « prénom nom » the name (200).
MAX_EMAIL = 64
MAX_DISPLAY_NAME = 200
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,49}$")
COLUMNS = {
    "nom": "last_name",
    "prénom": "first_name",
    "prenom": "first_name",
    "email": "email",
    "e-mail": "email",
    "courriel": "email",
    "numéro de candidat": "candidate_number",
    "numero de candidat": "candidate_number",
    "numéro": "candidate_number",
}
REQUIRED = ("last_name", "first_name", "email", "candidate_number")
LABELS = {
    "last_name": "nom",
    "first_name": "prénom",
    "email": "email",
    "candidate_number": "numéro de candidat",
}


@dataclass(frozen=True)
class EnrolmentRow:
    line: int
    last_name: str
    first_name: str
    email: str
    candidate_number: str

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class EnrolmentCsvError(Exception):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def _records(reader, filename: str):
    """The reader's rows; a line the csv module cannot read is refused with its number."""
    try:
        yield from reader
    except csv.Error:  # a field longer than csv.field_size_limit(), in practice
        raise EnrolmentCsvError(
            [
                f"{filename}:{reader.line_num}: ligne illisible : un champ dépasse "
                f"{csv.field_size_limit()} caractères (guillemet non fermé ?)"
            ]
        ) from None


def parse_enrolment_csv(data: bytes, *, filename: str) -> list[EnrolmentRow]:
    """Rows of a valid file; EnrolmentCsvError listing every problem otherwise."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise EnrolmentCsvError(
            [
                f"{filename}:{line}: le fichier n'est pas encodé en UTF-8 : enregistrez-le en "
                "« CSV UTF-8 »"
            ]
        ) from None
    if not text.strip():
        raise EnrolmentCsvError([f"{filename}:1: fichier vide"])
    first_line = text.splitlines()[0]
    delimiter = ";" if first_line.count(";") >= first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    records = _records(reader, filename)
    header = next(records)
    fields = [COLUMNS.get(name.strip().lower()) for name in header]
    missing = [LABELS[f] for f in REQUIRED if f not in fields]
    if missing:
        raise EnrolmentCsvError(
            [
                f"{filename}:1: colonne(s) manquante(s) : {', '.join(missing)} (attendu : nom;"
                "prénom;email;numéro de candidat)"
            ]
        )
    rows: list[EnrolmentRow] = []
    problems: list[str] = []
    seen_numbers: dict[str, int] = {}
    seen_emails: dict[str, int] = {}
    for cells in records:
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if len(rows) + len(problems) >= MAX_ROWS:
            problems.append(f"{filename}:{line}: plus de {MAX_ROWS} lignes : découpez le fichier")
            break
        values = {field: cell.strip() for field, cell in zip(fields, cells, strict=False) if field}
        row_problems = [f"{LABELS[field]} manquant" for field in REQUIRED if not values.get(field)]
        email = values.get("email", "").lower()
        number = values.get("candidate_number", "")
        if email and not EMAIL.match(email):
            row_problems.append(f"email invalide « {email} »")
        if number and not NUMBER.match(number):
            row_problems.append(f"numéro de candidat invalide « {number} »")
        if len(email) > MAX_EMAIL:
            row_problems.append(f"email trop long ({MAX_EMAIL} caractères au plus)")
        name = f"{values.get('first_name', '')} {values.get('last_name', '')}"
        if len(name) > MAX_DISPLAY_NAME:
            row_problems.append(f"prénom et nom trop longs ({MAX_DISPLAY_NAME} caractères au plus)")
        if any("\x00" in value for value in values.values()):
            row_problems.append("caractère nul (0x00) interdit")
        if number in seen_numbers:
            row_problems.append(f"numéro {number} déjà utilisé ligne {seen_numbers[number]}")
        if email in seen_emails:
            row_problems.append(f"email {email} déjà utilisé ligne {seen_emails[email]}")
        if row_problems:
            problems.append(f"{filename}:{line}: " + " ; ".join(row_problems))
            continue
        seen_numbers[number], seen_emails[email] = line, line
        rows.append(EnrolmentRow(line, values["last_name"], values["first_name"], email, number))
    if problems:
        raise EnrolmentCsvError(problems)
    if not rows:
        raise EnrolmentCsvError([f"{filename}:2: aucun candidat dans le fichier"])
    return rows
