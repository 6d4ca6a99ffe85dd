"""Configuration read from the environment (prefix ``CCPQ_``) and an optional ``.env`` file."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

INSECURE_SECRET_KEY = "dev-insecure-secret-key-change-me"
LAX_ENVIRONMENTS = frozenset({"dev", "demo", "test"})


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CCPQ_", env_file=".env", extra="ignore")

    env: Literal["dev", "demo", "test", "prod"] = "dev"
    database_url: str = "sqlite:///var/ccpq.sqlite3"
    secret_key: str = INSECURE_SECRET_KEY
    session_lifetime_minutes: int = 12 * 60
    deadline_grace_seconds: int = 10
    login_max_failures: int = 5
    login_lockout_minutes: int = 15
    bank_max_bytes: int = 2 * 1024 * 1024
    banks_dir: Path = Path("question_banks")
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    # uvicorn's access log names each request's client address (a personal datum the
    # privacy notice does not list): off unless the operator turns it on.
    access_log: bool = False
    # Requests using the database at once in each process (others wait their turn, holding
    # nothing). Unset: 1 on SQLite (one writer at a time anyway), 4 on PostgreSQL.
    db_concurrency: int | None = Field(default=None, ge=1, le=64)
    # Years after a candidate's last session closed before `ccpq gdpr purge` pseudonymises them.
    retention_years: int = 5
    # Mounts the bare-stack reference endpoint of `make bench`; never in production.
    bench_baseline: bool = False

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> "Settings":
        if self.env not in LAX_ENVIRONMENTS and self.secret_key == INSECURE_SECRET_KEY:
            raise ValueError(
                "CCPQ_SECRET_KEY doit être défini hors des modes dev/demo/test "
                "(la clé par défaut n'est pas secrète)."
            )
        if self.env not in LAX_ENVIRONMENTS and len(self.secret_key) < 32:
            raise ValueError("CCPQ_SECRET_KEY doit compter au moins 32 caractères.")
        return self

    @property
    def is_demo_allowed(self) -> bool:
        """Demo accounts with a known password exist only in dev and demo mode."""
        return self.env in {"dev", "demo"}

    @property
    def cookie_secure(self) -> bool:
        """Cookies travel over HTTPS only outside the local modes."""
        return self.env not in LAX_ENVIRONMENTS


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
