"""Counting the hops to the thread pool: a hop costs a save more than its statements."""

import app.db
from app import group_commit
from app.attempts import router as attempts_router
from app.auth import dependencies as auth_dependencies

# Where the candidates' hot paths call run_in_threadpool.
HOT_PATH_MODULES = (attempts_router, group_commit, app.db, auth_dependencies)


def count_hops(monkeypatch) -> list[str]:
    """The names of the functions run in the thread pool from now on, in call order."""
    names: list[str] = []
    for module in HOT_PATH_MODULES:
        real = module.run_in_threadpool

        async def counted(function, *args, real=real, **kwargs):
            names.append(getattr(function, "func", function).__name__)
            return await real(function, *args, **kwargs)

        monkeypatch.setattr(module, "run_in_threadpool", counted)
    return names
