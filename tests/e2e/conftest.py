"""End-to-end fixtures: the real server (uvicorn subprocess) and headless Chromium.

The server reads committed data, so it cannot share the rolled-back transaction of the
other tests: it gets its own database (a fresh SQLite file, or ``<testdb>_e2e`` when
``CCPQ_TEST_DATABASE_URL`` names PostgreSQL), migrated and seeded once per run. Each test
gets its own enrolled candidate, committed, so that tests never depend on each other.

Chromium is Debian's (/usr/bin/chromium): no browser is ever downloaded. When it is
missing the tests fail, they never skip.
"""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session

from app.auth import service as auth_service
from app.auth.roles import Role
from app.db import build_engine, utcnow
from app.sessions import service as sessions_service
from tests.conftest import PROJECT_ROOT
from tests.exam_fixtures import EXAM_BANK, import_bank
from tests.support.server import migrate

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_TIMEOUT = 20.0
EXPECT_TIMEOUT_MS = 5_000
PASSWORD = "secret-pass"


def _replace_once(source: str, old: str, new: str) -> str:
    assert old in source, f"banque d'essai modifiée : « {old} » introuvable"
    return source.replace(old, new, 1)


def _e2e_bank(source: str) -> str:
    """The exam bank valid whatever today's date (q-nombre stays out of the draw)."""
    source = _replace_once(source, "valid_from: 2026-01-01", "valid_from: 2000-01-01")
    source = _replace_once(source, "valid_until: 2026-12-31", "valid_until: 2099-12-31")
    return _replace_once(source, "valid_until: 2026-06-30", "valid_until: 2000-06-30")


# The sample exam of tests/exam_fixtures.py: result shown after the session closes.
E2E_BANK = _e2e_bank(EXAM_BANK)
# The same questions in another bank whose correction is shown right after submission,
# so that the result page with its score, table and corrections can be checked too.
CORRECTED_BANK = _replace_once(
    _replace_once(
        _replace_once(E2E_BANK, "id: essai\n", "id: essai-corrige\n"),
        "title: Questionnaire d'essai\n",
        "title: Questionnaire d'essai corrigé\n",
    ),
    "review_from: session_close",
    "review_from: submission",
)


# --------------------------------------------------------------------------- database


def _e2e_database_url(tmp_dir: Path) -> str:
    test_url = os.environ.get("CCPQ_TEST_DATABASE_URL")
    if not test_url:
        return f"sqlite:///{tmp_dir / 'e2e.sqlite3'}"
    url = make_url(test_url)
    if url.get_backend_name() != "postgresql":
        raise pytest.UsageError(f"CCPQ_TEST_DATABASE_URL non gérée par les tests e2e : {url}")
    if "test" not in (url.database or ""):  # never drop a database that is not for tests
        pytest.exit(f"refus d'utiliser « {url.database} » : son nom doit contenir « test »", 2)
    return url.set(database=f"{url.database}_e2e").render_as_string(hide_password=False)


def _postgres_admin(url: URL) -> Engine:
    return create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")


def _recreate_postgresql(url: URL) -> None:
    admin = _postgres_admin(url)
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{url.database}"'))
    finally:
        admin.dispose()


def _drop_postgresql(url: URL) -> None:
    admin = _postgres_admin(url)
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def e2e_database_url(tmp_path_factory) -> Iterator[str]:
    url = _e2e_database_url(tmp_path_factory.mktemp("e2e"))
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        _recreate_postgresql(parsed)
    yield url
    if parsed.get_backend_name() == "postgresql":
        _drop_postgresql(parsed)


@pytest.fixture(scope="session")
def e2e_engine(e2e_database_url: str) -> Iterator[Engine]:
    engine = build_engine(e2e_database_url)
    migrate(engine)
    yield engine
    engine.dispose()


@dataclass(frozen=True)
class E2EExam:
    session_id: int  # result after the session closes
    questionnaire_id: int
    corrected_session_id: int  # result and correction right after submission
    corrected_questionnaire_id: int


@pytest.fixture(scope="session")
def e2e_exam(e2e_engine: Engine) -> E2EExam:
    """Two sessions open now - 1 h → now + 2 h (the server uses the real clock), committed."""
    now = utcnow()
    ids = []
    with Session(e2e_engine, expire_on_commit=False) as db, db.begin():
        for name, bank in (
            ("Session de test", E2E_BANK),
            ("Session de test corrigée", CORRECTED_BANK),
        ):
            exam_session = sessions_service.create_session(
                session=db,
                name=name,
                opens_at=now - timedelta(hours=1),
                closes_at=now + timedelta(hours=2),
            )
            questionnaire = sessions_service.add_questionnaire(
                session=db,
                exam=exam_session,
                bank_version=import_bank(db, bank),
                override_reason="Banque de test : les questions échues ne sont pas tirées.",
            )
            ids += [exam_session.id, questionnaire.id]
    return E2EExam(*ids)


@dataclass(frozen=True)
class Candidate:
    login: str
    password: str
    display_name: str


@pytest.fixture
def make_candidate(e2e_engine: Engine, e2e_exam: E2EExam) -> Callable[..., Candidate]:
    """A new candidate account enrolled in the given sessions, committed."""

    def _make(*session_ids: int) -> Candidate:
        suffix = uuid.uuid4().hex[:8]
        login, name = f"e2e-{suffix}", f"Camille Essai {suffix}"
        with Session(e2e_engine) as db, db.begin():
            user = auth_service.create_user(
                session=db, login=login, password=PASSWORD, role=Role.CANDIDAT, display_name=name
            )
            for session_id in session_ids or (e2e_exam.session_id,):
                sessions_service.enrol(
                    session=db,
                    exam=sessions_service.get_session(session=db, exam_session_id=session_id),
                    user=user,
                    candidate_number=f"E2E-{suffix}",
                )
        return Candidate(login, PASSWORD, name)

    return _make


@pytest.fixture
def candidate(make_candidate) -> Candidate:
    """This test's own candidate, enrolled in the main session."""
    return make_candidate()


@dataclass(frozen=True)
class Trainer:
    login: str
    password: str
    display_name: str


@pytest.fixture
def formateur(e2e_engine: Engine) -> Trainer:
    """This test's own trainer account (role formateur), committed."""
    suffix = uuid.uuid4().hex[:8]
    login, name = f"e2e-formateur-{suffix}", f"Dominique Formatrice {suffix}"
    with Session(e2e_engine) as db, db.begin():
        auth_service.create_user(
            session=db, login=login, password=PASSWORD, role=Role.FORMATEUR, display_name=name
        )
    return Trainer(login, PASSWORD, name)


# --------------------------------------------------------------------------- server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/v1/health", timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="session")
def live_server(e2e_database_url: str, e2e_exam: E2EExam, tmp_path_factory) -> Iterator[str]:
    """The real application served by uvicorn on a free port; its base URL."""
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "CCPQ_DATABASE_URL": e2e_database_url, "CCPQ_ENV": "test"}
    log_path = tmp_path_factory.mktemp("server") / "uvicorn.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.main:app"]
            + ["--host", "127.0.0.1", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while not _healthy(base_url):
            if process.poll() is not None or time.monotonic() > deadline:
                state = (
                    f"arrêté (code {process.returncode})"
                    if process.poll() is not None
                    else f"sans réponse après {SERVER_START_TIMEOUT:.0f} s"
                )
                pytest.fail(
                    f"serveur e2e {state} ; sortie :\n{log_path.read_text(errors='replace')}",
                    pytrace=False,
                )
            time.sleep(0.1)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --------------------------------------------------------------------------- browser


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail(
            f"Chromium introuvable ({CHROMIUM}) : installez le paquet Debian « chromium » "
            "(les tests e2e ne téléchargent aucun navigateur et ne sont jamais ignorés).",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def context(browser: Browser, live_server: str) -> Iterator[BrowserContext]:
    context = browser.new_context(base_url=live_server, locale="fr-FR", timezone_id="Europe/Paris")
    context.set_default_timeout(EXPECT_TIMEOUT_MS)
    yield context
    context.close()


@dataclass
class PageProblems:
    """What the browser reported that a test must never see: script errors, CSP refusals."""

    errors: list[str]

    def check(self) -> None:
        assert not self.errors, "erreurs dans le navigateur :\n" + "\n".join(self.errors)


@pytest.fixture
def page_problems() -> PageProblems:
    return PageProblems([])


@pytest.fixture
def page(context: BrowserContext, page_problems: PageProblems) -> Iterator[Page]:
    page = context.new_page()

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            page_problems.errors.append(f"CSP : {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: page_problems.errors.append(f"script : {error}"))
    yield page
    page_problems.check()
