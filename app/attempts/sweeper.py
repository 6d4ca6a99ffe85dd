"""The in-process sweeper: finalises expired attempts even if no candidate comes back.

Every worker runs one; that is safe because the sweep is idempotent and skips rows
another worker has locked (``SKIP LOCKED`` on PostgreSQL).
"""

import asyncio
import logging
from contextlib import asynccontextmanager

from starlette.concurrency import run_in_threadpool

from app.attempts import service as attempts_service
from app.config import get_settings
from app.db import get_sessionmaker, utcnow

logger = logging.getLogger("ccpq.sweeper")
SWEEP_EVERY_SECONDS = 15


def sweep_once() -> int:
    with get_sessionmaker().begin() as session:
        return attempts_service.sweep_expired(
            session=session, now=utcnow(), grace=get_settings().deadline_grace_seconds
        )


async def _loop() -> None:
    while True:
        await asyncio.sleep(SWEEP_EVERY_SECONDS)
        try:
            count = await run_in_threadpool(sweep_once)
            if count:
                logger.info("%d passation(s) expirée(s) remise(s)", count)
        except Exception:  # a failed sweep is retried at the next tick
            logger.exception("échec du balayage des passations expirées")


@asynccontextmanager
async def sweeper_lifespan(app):
    task = asyncio.create_task(_loop())
    try:
        yield
    finally:
        task.cancel()
