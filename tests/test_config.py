"""Settings from the environment, with a refusal of the default secret in production."""

import pytest
from pydantic import ValidationError

from app.config import INSECURE_SECRET_KEY, Settings


class TestSettings:
    def test_defaults(self, monkeypatch):
        monkeypatch.delenv("CCPQ_ENV", raising=False)
        monkeypatch.delenv("CCPQ_DATABASE_URL", raising=False)
        settings = Settings(_env_file=None)
        assert settings.env == "dev"
        assert settings.database_url == "sqlite:///var/ccpq.sqlite3"
        assert settings.deadline_grace_seconds == 10
        assert settings.bank_max_bytes == 2 * 1024 * 1024
        assert settings.is_demo_allowed and not settings.cookie_secure

    def test_prefix_and_types(self, monkeypatch):
        monkeypatch.setenv("CCPQ_SESSION_LIFETIME_MINUTES", "30")
        monkeypatch.setenv("CCPQ_DEADLINE_GRACE_SECONDS", "25")
        settings = Settings(_env_file=None)
        assert (settings.session_lifetime_minutes, settings.deadline_grace_seconds) == (30, 25)

    @pytest.mark.parametrize("env", ["dev", "demo", "test"])
    def test_default_secret_allowed_in_local_modes(self, env):
        assert Settings(env=env, _env_file=None).secret_key == INSECURE_SECRET_KEY

    def test_default_secret_refused_in_production(self):
        with pytest.raises(ValidationError, match="CCPQ_SECRET_KEY doit être défini"):
            Settings(env="prod", _env_file=None)

    def test_short_secret_refused_in_production(self):
        with pytest.raises(ValidationError, match="au moins 32 caractères"):
            Settings(env="prod", secret_key="court", _env_file=None)

    def test_production(self):
        settings = Settings(env="prod", secret_key="s" * 32, _env_file=None)
        assert settings.cookie_secure and not settings.is_demo_allowed
