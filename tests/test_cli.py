"""The ``ccpq`` command line, run in the test's transaction."""

import pytest
from sqlalchemy import create_engine, func, inspect, select

import app.cli
from app.auth.models import UserAccount
from app.auth.roles import Role
from app.banks.models import BankVersion
from app.config import Settings, get_settings
from tests.banks.samples import VALID_BANK


@pytest.fixture
def bank_file(tmp_path):
    path = tmp_path / "essai.yaml"
    path.write_text(VALID_BANK, encoding="utf-8")
    return path


def count_versions(db) -> int:
    return db.scalar(select(func.count()).select_from(BankVersion))


class TestBanksValidate:
    def test_valid_file(self, run, bank_file):
        code, out, _ = run("banks", "validate", str(bank_file))
        assert code == 0
        assert out == f"{bank_file}: banque « essai » version 2026.1, 4 questions : valide\n"

    def test_broken_file_lists_every_error(self, run, tmp_path):
        path = tmp_path / "casse.yaml"
        path.write_text(
            VALID_BANK.replace("competences: [C9]", "competences: [C99]")
            .replace("    tolerance: 0\n", "")
            .replace("    difficulty: 2\n", "    difficulty: 2\n    colour: red\n"),
            encoding="utf-8",
        )
        code, out, err = run("banks", "validate", str(path))
        assert code == 1
        assert out == ""
        assert err.splitlines() == [
            f"{path}:4: competences[1] : compétence « C99 » absente du référentiel",
            f"{path}:36: question « q-multiple » › colour : clé inconnue « colour »",
            f"{path}:50: question « q-nombre » : clé obligatoire manquante « tolerance »",
            "Erreur : 1 fichier(s) invalide(s) sur 1",
        ]

    def test_missing_file(self, run, tmp_path):
        code, _, err = run("banks", "validate", str(tmp_path / "absent.yaml"))
        assert code == 1
        assert err == f"Erreur : {tmp_path / 'absent.yaml'}: fichier introuvable\n"

    def test_directory_of_shipped_banks(self, run):
        code, out, _ = run("banks", "validate", "question_banks")
        assert code == 0
        assert len(out.splitlines()) == 4
        assert all(line.endswith(" : valide") for line in out.splitlines())


class TestBanksImport:
    def test_import_then_reimport(self, run, bank_file, db):
        code, out, _ = run("banks", "import", str(bank_file))
        assert (code, out) == (0, f"{bank_file}: essai 2026.1 (4 questions) : importée\n")
        code, out, _ = run("banks", "import", str(bank_file))
        assert (code, out) == (
            0,
            f"{bank_file}: essai 2026.1 (4 questions) : déjà importée, inchangée\n",
        )
        assert count_versions(db) == 1

    def test_one_broken_file_imports_nothing(self, run, bank_file, tmp_path, db):
        broken = tmp_path / "zz.yaml"
        broken.write_text("id: [\n", encoding="utf-8")
        code, out, err = run("banks", "import", str(bank_file), str(broken))
        assert code == 1
        assert err.splitlines()[-1] == (
            "Erreur : 1 fichier(s) invalide(s) sur 2 : rien n'a été importé"
        )
        assert count_versions(db) == 0

    def test_conflict_rolls_back_the_whole_command(self, run, bank_file, tmp_path, db):
        run("banks", "import", str(bank_file))
        other = tmp_path / "autre.yaml"
        other.write_text(VALID_BANK.replace("id: essai", "id: autre"), encoding="utf-8")
        changed = tmp_path / "essai-modifiee.yaml"
        changed.write_text(
            VALID_BANK.replace("Autre", "X").replace("progressif.", "progressif !"),
            encoding="utf-8",
        )
        code, _, err = run("banks", "import", str(other), str(changed))
        assert code == 1
        assert (
            "la version 2026.1 de la banque « essai » est déjà publiée avec un autre contenu" in err
        )
        assert count_versions(db) == 1  # « autre » was rolled back with the rest

    def test_list_and_diff(self, run, bank_file, tmp_path):
        run("banks", "import", str(bank_file))
        newer = tmp_path / "essai-2.yaml"
        newer.write_text(
            VALID_BANK.replace('version: "2026.1"', 'version: "2026.2"', 1)
            .replace(
                "changelog:\n",
                'changelog:\n  - version: "2026.2"\n    date: 2026-02-01\n'
                "    summary: Reformulation.\n",
                1,
            )
            .replace("Le barème est progressif.", "Le barème de l'IR est progressif."),
            encoding="utf-8",
        )
        run("banks", "import", str(newer))
        code, out, _ = run("banks", "list")
        lines = out.splitlines()
        assert code == 0
        assert lines[0] == "essai – Banque d'essai (thème fiscalite)"
        assert [line.split()[0] for line in lines[1:]] == ["2026.2", "2026.1"]
        code, out, _ = run("banks", "diff", "essai", "2026.1", "2026.2")
        assert (code, out.splitlines()) == (
            0,
            ["Différences 2026.1 → 2026.2", "  ~ q-vrai-faux (modifiée : stem)"],
        )

    def test_diff_of_unknown_version(self, run):
        code, _, err = run("banks", "diff", "essai", "2026.1", "2026.2")
        assert (code, err) == (1, "Erreur : la banque « essai » n'a pas de version 2026.1\n")


class TestUsers:
    def test_create_with_password_on_stdin(self, run, db):
        args = "users create --login martin --role jury --password-stdin --name".split()
        code, out, _ = run(*args, "Martin Dupont", stdin="un-mot-de-passe\n")
        assert (code, out) == (0, "Compte « martin » créé (rôle membre du jury).\n")
        user = db.scalar(select(UserAccount).where(UserAccount.login == "martin"))
        assert (user.role, user.display_name) == (Role.JURY, "Martin Dupont")

    def test_unknown_role(self, run):
        args = "users create --login x --role pape --password-stdin".split()
        code, _, err = run(*args, stdin="secret\n")
        assert (code, err) == (
            1,
            "Erreur : rôle inconnu « pape » : candidat, formateur, jury ou admin\n",
        )

    def test_taken_login(self, run, make_user):
        make_user("martin")
        args = "users create --login martin --role jury --password-stdin".split()
        code, _, err = run(*args, stdin="secret\n")
        assert (code, err) == (1, "Erreur : L'identifiant « martin » est déjà pris.\n")


class TestDemo:
    def test_refused_outside_demo_mode(self, run, monkeypatch, db):
        monkeypatch.setattr(app.cli, "_settings", lambda: Settings(env="test"))
        code, _, err = run("demo")
        assert code == 1
        assert err == (
            "Erreur : comptes de démonstration refusés en mode « test » : ils ont un mot de passe "
            "connu (CCPQ_ENV=dev ou demo seulement)\n"
        )
        assert db.scalar(select(func.count()).select_from(UserAccount)) == 0

    def test_creates_one_account_per_role_once(self, run, monkeypatch, db, client):
        monkeypatch.setattr(app.cli, "_settings", lambda: Settings(env="demo"))
        assert run("demo")[0] == 0
        code, out, _ = run("demo")
        assert code == 0 and "(0 créé(s))" in out
        users = db.execute(select(UserAccount.login, UserAccount.role).order_by(UserAccount.id))
        assert users.all() == [
            ("candidat", Role.CANDIDAT),
            ("formateur", Role.FORMATEUR),
            ("jury", Role.JURY),
            ("admin", Role.ADMIN),
        ]
        response = client.post("/api/v1/auth/login", json={"login": "jury", "password": "demo"})
        assert response.status_code == 200


class TestServe:
    @pytest.mark.parametrize(("env", "access_log"), [({}, False), ({"CCPQ_ACCESS_LOG": "1"}, True)])
    def test_access_log_only_when_asked(self, run, monkeypatch, env, access_log):
        """The access log names every client's address: the operator turns it on."""
        import uvicorn

        served = []
        monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.append((app, options)))
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setattr(app.cli, "_settings", lambda: Settings(env="test"))
        assert run("serve", "--port", "8123")[0] == 0
        assert served == [
            (
                "app.main:app",
                {
                    "host": "127.0.0.1",
                    "port": 8123,
                    "workers": 1,
                    "proxy_headers": True,
                    "log_level": "info",
                    "access_log": access_log,
                },
            )
        ]


class TestDatabase:
    def test_upgrade_creates_the_tables(self, run, tmp_path, monkeypatch):
        url = f"sqlite:///{tmp_path / 'neuve.sqlite3'}"
        monkeypatch.setenv("CCPQ_DATABASE_URL", url)
        get_settings.cache_clear()
        try:
            code, out, _ = run("db", "upgrade")
        finally:
            get_settings.cache_clear()
        assert (code, out) == (0, "Base de données à jour (head).\n")
        tables = set(inspect(create_engine(url)).get_table_names())
        assert tables == {
            "alembic_version",
            "answer",
            "attempt",
            "attempt_item",
            "audit_entry",
            "bank",
            "bank_draft",
            "bank_version",
            "competence_outcome",
            "enrolment",
            "exam_session",
            "login_attempt",
            "question_version",
            "session_questionnaire",
            "user_account",
            "user_session",
        }

    def test_default_secret_refused_in_production(self, run, monkeypatch):
        monkeypatch.setenv("CCPQ_ENV", "prod")
        get_settings.cache_clear()
        try:
            code, _, err = run("banks", "validate", "question_banks")
        finally:
            monkeypatch.setenv("CCPQ_ENV", "test")
            get_settings.cache_clear()
        assert code == 1
        assert err == (
            "Erreur de configuration : CCPQ_SECRET_KEY doit être défini hors des modes "
            "dev/demo/test (la clé par défaut n'est pas secrète).\n"
        )


class TestAttemptsSweep:
    def test_sweep_finalises_expired_attempts(self, run, exam, db, monkeypatch):
        from datetime import timedelta

        from app.attempts import service as attempts_service
        from app.attempts.models import Attempt
        from app.sessions.models import Enrolment
        from tests.exam_fixtures import CLOSES, OPENS

        user_id = db.get(Enrolment, exam.enrolment_id).user_id
        attempt = attempts_service.start_or_resume(
            session=db,
            user_id=user_id,
            questionnaire_id=exam.questionnaire_id,
            now=OPENS + timedelta(minutes=5),
            grace=10,
        )
        db.commit()
        monkeypatch.setattr("app.db.utcnow", lambda: CLOSES + timedelta(days=1))
        code, out, _ = run("attempts", "sweep")
        assert (code, out) == (0, "1 passation(s) expirée(s) remise(s).\n")
        db.expire_all()
        assert db.get(Attempt, attempt.id).status == "expired"
        assert run("attempts", "sweep")[1] == "0 passation(s) expirée(s) remise(s).\n"
