"""Imports every domain's tables so that Base.metadata knows them all (Alembic, tests)."""


def load_all_models() -> None:
    import app.attempts.models  # noqa: F401
    import app.audit.models  # noqa: F401
    import app.auth.models  # noqa: F401
    import app.banks.models  # noqa: F401
    import app.records.models  # noqa: F401
    import app.sessions.models  # noqa: F401
