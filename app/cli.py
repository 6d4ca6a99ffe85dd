"""The ``ccpq`` command line: database, banks, users, demo data, server."""

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import Progress
from sqlalchemy.orm import Session

PROJECT_ROOT = Path(__file__).resolve().parents[1]

cli = typer.Typer(
    help="ccpq : questionnaires thématiques et dossier candidat.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_cli = typer.Typer(help="Base de données.", no_args_is_help=True)
banks_cli = typer.Typer(help="Banques de questions.", no_args_is_help=True)
users_cli = typer.Typer(help="Comptes utilisateurs.", no_args_is_help=True)
attempts_cli = typer.Typer(help="Passations.", no_args_is_help=True)
audit_cli = typer.Typer(help="Journal d'audit.", no_args_is_help=True)
gdpr_cli = typer.Typer(help="Données personnelles (RGPD).", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(banks_cli, name="banks")
cli.add_typer(users_cli, name="users")
cli.add_typer(attempts_cli, name="attempts")
cli.add_typer(audit_cli, name="audit")
cli.add_typer(gdpr_cli, name="gdpr")

# soft_wrap: one `fichier:ligne: message` per line, whatever the terminal's width.
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

DEMO_PASSWORD = "demo"
DEMO_ACCOUNTS = (
    ("candidat", "candidat", "Camille Candidat"),
    ("formateur", "formateur", "Fabien Formateur"),
    ("jury", "jury", "Julie Jury"),
    ("admin", "admin", "Alex Admin"),
)


class CliError(Exception):
    """A refusal printed as is, exit status 1."""


@contextmanager
def transaction() -> Iterator[Session]:
    """One command, one transaction: everything is written or nothing is."""
    from app.db import get_sessionmaker

    with get_sessionmaker().begin() as session:
        yield session


def _settings():
    from app.config import get_settings

    return get_settings()


def alembic_config():
    from alembic.config import Config

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    return config


@db_cli.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Révision cible.")] = "head") -> None:
    """Applique les migrations (crée la base au besoin)."""
    from alembic import command

    command.upgrade(alembic_config(), revision)
    out.print(f"Base de données à jour ({revision}).")


def _bank_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml")))
        elif path.exists():
            files.append(path)
        else:
            raise CliError(f"{path}: fichier introuvable")
    if not files:
        raise CliError("aucun fichier de banque (.yaml) à traiter")
    return files


def _parse_all(files: list[Path], *, consequence: str = "") -> list:
    """Parse every file, print every problem of every file; CliError if any file failed."""
    from app.banks import service as banks_service
    from app.banks.format import BankFileError

    max_bytes = _settings().bank_max_bytes
    documents, failed = [], 0
    with Progress(console=err, transient=True, disable=not err.is_terminal) as progress:
        task = progress.add_task("Validation", total=len(files))
        for path in files:
            try:
                documents.append((path, banks_service.parse_file(path, max_bytes=max_bytes)))
            except BankFileError as error:
                failed += 1
                for issue in error.issues:
                    err.print(str(issue), markup=False)
            progress.advance(task)
    if failed:
        raise CliError(f"{failed} fichier(s) invalide(s) sur {len(files)}{consequence}")
    return documents


@banks_cli.command("validate")
def banks_validate(
    paths: Annotated[list[Path], typer.Argument(help="Fichiers ou dossiers de banques.")],
) -> None:
    """Valide des fichiers de banques et liste toutes leurs erreurs (fichier:ligne)."""
    for path, document in _parse_all(_bank_files(paths)):
        out.print(
            f"{path}: banque « {document.id} » version {document.version}, "
            f"{len(document.questions)} questions : valide",
            markup=False,
        )


@banks_cli.command("stats")
def banks_stats(
    paths: Annotated[list[Path], typer.Argument(help="Fichiers ou dossiers de banques.")],
    on_date: Annotated[
        str | None,
        typer.Option("--date", help="Date de validité AAAA-MM-JJ (défaut : aujourd'hui)."),
    ] = None,
) -> None:
    """Couverture de chaque banque : questions par sujet, type et difficulté."""
    from datetime import date

    from app.banks.stats import bank_stats, format_stats
    from app.clock import paris_date
    from app.db import utcnow

    try:
        day = date.fromisoformat(on_date) if on_date else paris_date(utcnow())
    except ValueError:
        raise CliError(f"date invalide « {on_date} » : attendu AAAA-MM-JJ") from None
    for index, (_, document) in enumerate(_parse_all(_bank_files(paths))):
        if index:
            out.print()
        for line in format_stats(bank_stats(document, on_date=day)):
            out.print(line, markup=False)


@banks_cli.command("freshness")
def banks_freshness(
    days: Annotated[int, typer.Option("--days", help="Horizon en jours.")] = 30,
) -> None:
    """Questions échues ou qui expirent bientôt, par banque et par session ouverte."""
    from datetime import timedelta

    from app.banks import service as banks_service
    from app.clock import paris_date
    from app.db import utcnow
    from app.sessions import service as sessions_service

    now = utcnow()
    today = paris_date(now)
    with transaction() as session:
        banks = banks_service.freshness(session=session, on_date=today, within_days=days)
        sessions = sessions_service.open_sessions_freshness(
            session=session, now=now, within_days=days
        )
        horizon = today + timedelta(days=days)
        out.print(f"Fraîcheur réglementaire au {today:%d/%m/%Y} (horizon : {horizon:%d/%m/%Y})")
        for bank, version, stale in banks:
            out.print(
                f"Banque {bank.id} {version.version} : {len(stale)} question(s)", markup=False
            )
            for item in stale:
                out.print(f"  {item.describe()}", markup=False)
        for exam, questionnaire, stale in sessions:
            out.print(
                f"Session « {exam.name} », {questionnaire.title} : {len(stale)} question(s)",
                markup=False,
            )
            for item in stale:
                out.print(f"  {item.describe()}", markup=False)


@banks_cli.command("import")
def banks_import(
    paths: Annotated[list[Path], typer.Argument(help="Fichiers ou dossiers de banques.")],
) -> None:
    """Importe des banques : chaque fichier devient une version immuable."""
    from app.banks import service as banks_service
    from app.db import utcnow

    documents = _parse_all(_bank_files(paths), consequence=" : rien n'a été importé")
    with transaction() as session:
        outcomes = [
            (
                path,
                banks_service.import_document(
                    session=session, document=document, source=str(path), now=utcnow()
                ),
            )
            for path, document in documents
        ]
    from app.banks.freshness import expired_before
    from app.clock import paris_date

    for path, outcome in outcomes:
        what = "importée" if outcome.status == "created" else "déjà importée, inchangée"
        out.print(
            f"{path}: {outcome.version.bank_id} {outcome.version.version} "
            f"({outcome.version.question_count} questions) : {what}",
            markup=False,
        )
        expired = expired_before(outcome.version.content, day=paris_date(utcnow()))
        if expired:
            err.print(
                f"Attention : {path}: {len(expired)} question(s) échue(s) aujourd'hui "
                f"({', '.join(item.question_id for item in expired)}) : elles ne seront pas "
                "tirées ; publiez une version à jour.",
                markup=False,
            )


@banks_cli.command("list")
def banks_list() -> None:
    """Liste les banques importées et leurs versions."""
    from app.banks import service as banks_service

    with transaction() as session:
        banks = banks_service.list_banks(session=session)
        if not banks:
            out.print("Aucune banque importée.")
        for bank, versions in banks:
            out.print(f"{bank.id} – {bank.title} (thème {bank.theme})", markup=False)
            for version in versions:
                out.print(
                    f"  {version.version}  {version.question_count} questions  "
                    f"sha256 {version.content_sha256[:12]}  importée le "
                    f"{version.imported_at:%d/%m/%Y %H:%M}",
                    markup=False,
                )


@banks_cli.command("diff")
def banks_diff(
    bank: Annotated[str, typer.Argument(help="Identifiant de la banque.")],
    old: Annotated[str, typer.Argument(help="Version de départ.")],
    new: Annotated[str, typer.Argument(help="Version d'arrivée.")],
) -> None:
    """Questions ajoutées, supprimées et modifiées entre deux versions."""
    from app.banks import service as banks_service
    from app.banks.diff import format_diff

    with transaction() as session:
        diff = banks_service.diff_versions(session=session, bank_id=bank, old=old, new=new)
    for line in format_diff(diff):
        out.print(line, markup=False)


@banks_cli.command("convert")
def banks_convert(
    source: Annotated[
        Path,
        typer.Argument(
            metavar="INPUT", help="Fichier à convertir : YAML, GIFT, Moodle XML ou QTI."
        ),
    ],
    output: Annotated[
        Path, typer.Option("-o", "--output", metavar="OUTPUT", help="Fichier à écrire.")
    ],
    source_format: Annotated[
        str | None,
        typer.Option(
            "--from", help="Format d'entrée : yaml, gift, moodlexml, qti21, qti3 (défaut : deviné)."
        ),
    ] = None,
    target_format: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="Format de sortie : yaml, gift, moodlexml, qti3 (défaut : d'après l'extension).",
        ),
    ] = None,
) -> None:
    """Convertit une banque entre YAML, GIFT, Moodle XML et QTI ; liste ce qui est ignoré."""
    from app.banks import service as banks_service
    from app.banks.format import BankFileError, parse_bank_bytes
    from app.banks.interchange import ConversionError, convert_report

    suffixes = {".yaml": "yaml", ".yml": "yaml", ".gift": "gift", ".txt": "gift"}
    suffixes |= {".xml": "moodlexml", ".zip": "qti3"}
    target = target_format or suffixes.get(output.suffix.lower())
    if target is None:
        raise CliError(
            f"{output}: format de sortie à préciser avec --to (yaml, gift, moodlexml, qti3)"
        )
    if not source.is_file():
        raise CliError(f"{source}: fichier introuvable")
    if output.exists() and output.resolve() == source.resolve():
        raise CliError(f"{output}: le fichier produit remplacerait le fichier converti")
    catalog = banks_service.default_catalog()
    max_bytes = _settings().bank_max_bytes
    try:
        conversion = convert_report(
            source.read_bytes(),
            filename=str(source),
            source_format=source_format,
            target_format=target,
            catalog=catalog,
            max_yaml_bytes=max_bytes,
        )
    except ConversionError as error:
        for skipped in error.skipped:
            err.print(str(skipped), markup=False)
        raise CliError(str(error)) from None
    except OSError as error:
        raise CliError(f"{source}: lecture impossible : {error.strerror}") from None
    for skipped in conversion.skipped:
        err.print(str(skipped), markup=False)
    for warning in conversion.warnings:
        err.print(f"avertissement : {warning}", markup=False)
    to_review: list[str] = []
    if target == "yaml":  # the written file as `ccpq banks validate` will read it
        try:
            parse_bank_bytes(
                conversion.data,
                filename=str(output),
                catalog=catalog,
                max_bytes=max(max_bytes, len(conversion.data)),
            )
        except BankFileError as error:
            to_review = [str(issue) for issue in error.issues]
    try:
        output.write_bytes(conversion.data)
    except OSError as error:
        raise CliError(f"{output}: écriture impossible : {error.strerror}") from None
    for issue in to_review:
        err.print(f"à corriger avant l'import : {issue}", markup=False)
    out.print(
        f"{source} ({conversion.source_format}) → {output} ({target}) : "
        f"{len(conversion.bank.questions)} question(s) convertie(s), "
        f"{len(conversion.skipped)} ignorée(s), {len(conversion.warnings)} avertissement(s)",
        markup=False,
    )


@users_cli.command("create")
def users_create(
    login: Annotated[str, typer.Option("--login", help="Identifiant de connexion.")],
    role: Annotated[str, typer.Option("--role", help="candidat, formateur, jury ou admin.")],
    name: Annotated[str | None, typer.Option("--name", help="Nom affiché.")] = None,
    email: Annotated[str | None, typer.Option("--email")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Lire le mot de passe sur l'entrée standard.")
    ] = False,
) -> None:
    """Crée un compte ; le mot de passe est demandé (ou lu sur l'entrée standard)."""
    from app.auth import service as auth_service
    from app.auth.roles import Role

    try:
        parsed_role = Role(role)
    except ValueError:
        raise CliError(f"rôle inconnu « {role} » : candidat, formateur, jury ou admin") from None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Mot de passe", hide_input=True, confirmation_prompt=True)
    with transaction() as session:
        user = auth_service.create_user(
            session=session,
            login=login,
            password=password,
            role=parsed_role,
            display_name=name,
            email=email,
        )
    out.print(f"Compte « {user.login} » créé (rôle {user.role.label.lower()}).", markup=False)


@attempts_cli.command("sweep")
def attempts_sweep() -> None:
    """Remet les passations dont l'échéance (plus le délai de grâce) est passée."""
    from app.attempts import service as attempts_service
    from app.db import utcnow

    with transaction() as session:
        count = attempts_service.sweep_expired(
            session=session, now=utcnow(), grace=_settings().deadline_grace_seconds
        )
    out.print(f"{count} passation(s) expirée(s) remise(s).")


@audit_cli.command("verify")
def audit_verify() -> None:
    """Vérifie la chaîne du journal d'audit : entrée modifiée ou supprimée."""
    from app.audit import service as audit_service

    with transaction() as session:
        count, problems = audit_service.verify(session=session)
    for problem in problems:
        err.print(problem, markup=False)
    if problems:
        raise CliError(f"journal d'audit altéré : {len(problems)} problème(s) sur {count} entrées")
    out.print(f"Journal d'audit intègre : {count} entrée(s) vérifiée(s).")


@gdpr_cli.command("purge")
def gdpr_purge(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Liste les candidats concernés sans rien modifier.")
    ] = False,
    on_date: Annotated[
        str | None,
        typer.Option("--now", help="Date de référence AAAA-MM-JJ (défaut : aujourd'hui)."),
    ] = None,
) -> None:
    """Anonymise les candidats au-delà de la durée de conservation (décisions conservées)."""
    from datetime import date, datetime

    from app.clock import PARIS, paris_date
    from app.db import utcnow
    from app.gdpr import service as gdpr_service

    now = utcnow()
    try:
        reference = (
            datetime.combine(date.fromisoformat(on_date), datetime.min.time(), tzinfo=PARIS)
            if on_date
            else now
        )
    except ValueError:
        raise CliError(f"date invalide « {on_date} » : attendu AAAA-MM-JJ") from None
    years = _settings().retention_years
    try:
        cutoff = gdpr_service.retention_cutoff(reference, years)
        with transaction() as session:
            purged = gdpr_service.purge(
                session=session,
                reference=reference,
                retention_years=years,
                now=now,
                actor="cli",
                dry_run=dry_run,
            )
    except gdpr_service.GdprError as error:
        raise CliError(str(error)) from None
    before = f"dernière session close avant le {paris_date(cutoff):%d/%m/%Y}"
    if dry_run:
        for candidate in purged:
            out.print(
                f"Compte n° {candidate.user_id} « {candidate.login} » "
                f"(n° de candidat {', '.join(candidate.candidate_numbers)}) : "
                f"dernière session close le {paris_date(candidate.last_closed_at):%d/%m/%Y}",
                markup=False,
            )
        out.print(
            f"{len(purged)} candidat(s) à anonymiser ({before}) : "
            "simulation, rien n'a été modifié.",
            markup=False,
        )
    else:
        out.print(f"{len(purged)} candidat(s) anonymisé(s) ({before}).", markup=False)


@gdpr_cli.command("export")
def gdpr_export(
    candidate: Annotated[
        str, typer.Argument(help="Identifiant de connexion ou numéro de candidat.")
    ],
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Fichier JSON à écrire (défaut : sortie standard)."),
    ] = None,
) -> None:
    """Exporte en JSON toutes les données personnelles d'un candidat (droit d'accès)."""
    import json

    from app.db import utcnow
    from app.gdpr import service as gdpr_service

    try:
        with transaction() as session:
            data = gdpr_service.export(session=session, key=candidate, now=utcnow(), actor="cli")
            text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
            if output is not None:  # written before the commit: no audit entry without a file
                try:
                    output.write_text(text, encoding="utf-8")
                except OSError as error:
                    raise CliError(f"{output}: écriture impossible ({error.strerror})") from None
    except gdpr_service.GdprError as error:
        raise CliError(str(error)) from None
    if output is None:
        sys.stdout.flush()
        if hasattr(sys.stdout, "buffer"):
            sys.stdout.buffer.write(text.encode("utf-8"))
            sys.stdout.buffer.flush()
        else:
            sys.stdout.write(text)
    else:
        out.print(
            f"Données personnelles du compte n° {data['account']['id']} écrites dans {output}.",
            markup=False,
        )


@cli.command("demo")
def demo() -> None:
    """Crée les comptes de démonstration (mode dev ou demo uniquement)."""
    from app.auth import service as auth_service
    from app.auth.roles import Role

    settings = _settings()
    if not settings.is_demo_allowed:
        raise CliError(
            f"comptes de démonstration refusés en mode « {settings.env} » : "
            "ils ont un mot de passe connu (CCPQ_ENV=dev ou demo seulement)"
        )
    created = []
    with transaction() as session:
        for login, role, name in DEMO_ACCOUNTS:
            if auth_service.get_user_by_login(session=session, login=login) is None:
                auth_service.create_user(
                    session=session,
                    login=login,
                    password=DEMO_PASSWORD,
                    role=Role(role),
                    display_name=name,
                )
                created.append(login)
        session_note = _demo_session(session)
    out.print(
        f"Comptes de démonstration prêts ({len(created)} créé(s)) : "
        + ", ".join(login for login, _, _ in DEMO_ACCOUNTS)
        + f" ; mot de passe « {DEMO_PASSWORD} »."
    )
    out.print(session_note, markup=False)


DEMO_SESSION = "Session de démonstration"


def _demo_session(session: Session) -> str:
    """A session open for 30 days with every bank's questionnaire, the demo candidate enrolled."""
    from datetime import timedelta

    from sqlalchemy import select

    from app.auth import service as auth_service
    from app.banks import service as banks_service
    from app.db import utcnow
    from app.sessions import service as sessions_service
    from app.sessions.models import ExamSession

    if session.scalar(select(ExamSession).where(ExamSession.name == DEMO_SESSION)):
        return f"« {DEMO_SESSION} » existe déjà."
    versions = banks_service.latest_versions_with_blueprint(session=session)
    if not versions:
        return "Aucune banque importée : pas de session de démonstration (ccpq banks import)."
    now = utcnow()
    exam = sessions_service.create_session(
        session=session,
        name=DEMO_SESSION,
        opens_at=now - timedelta(hours=1),
        closes_at=now + timedelta(days=30),
    )
    for version in versions:
        sessions_service.add_questionnaire(
            session=session,
            exam=exam,
            bank_version=version,
            override_reason="Session de démonstration : les questions échues ne sont pas tirées.",
            actor="demo",
            now=now,
        )
    candidate = auth_service.get_user_by_login(session=session, login="candidat")
    sessions_service.enrol(session=session, exam=exam, user=candidate, candidate_number="DEMO-0001")
    return (
        f"« {DEMO_SESSION} » ouverte 30 jours avec {len(versions)} questionnaire(s) ; "
        "le compte « candidat » y est inscrit."
    )


@cli.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="Adresse d'écoute.")] = None,
    port: Annotated[int | None, typer.Option(help="Port.")] = None,
    workers: Annotated[int | None, typer.Option(help="Processus.")] = None,
) -> None:
    """Lance le serveur web."""
    import uvicorn

    settings = _settings()
    host, port = host or settings.host, port or settings.port
    out.print(f"ccpq sert sur http://{host}:{port}/")
    if settings.is_demo_allowed:
        logins = ", ".join(login for login, _, _ in DEMO_ACCOUNTS)
        out.print(f"Comptes de démonstration : {logins} (mot de passe « {DEMO_PASSWORD} »)")
    uvicorn.run(
        "app.main:app",
        host=host,
        port=port,
        workers=workers or settings.workers,
        proxy_headers=True,
        log_level="info",
        access_log=settings.access_log,
    )


def main() -> None:
    """Entry point: known errors print one French line and exit 1, never a traceback."""
    from app.auth.service import AuthError
    from app.banks.service import BankNotFound, BankVersionConflict

    try:
        cli()
    except (CliError, AuthError, BankVersionConflict, BankNotFound) as error:
        err.print(f"Erreur : {error}", markup=False)
        sys.exit(1)
    except ValidationError as error:  # settings read from the environment
        messages = "; ".join(e["msg"].removeprefix("Value error, ") for e in error.errors())
        err.print(f"Erreur de configuration : {messages}", markup=False)
        sys.exit(1)
    except Exception as error:
        if os.environ.get("CCPQ_DEBUG"):
            raise
        err.print(
            f"Erreur inattendue ({type(error).__name__}) : {error}. "
            "Relancez avec CCPQ_DEBUG=1 pour le détail.",
            markup=False,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
