"""Request-wide dependencies shared by every domain."""

from datetime import datetime
from typing import Annotated

from fastapi import Depends
from sqlalchemy.orm import Session

from app.config import Settings, get_settings
from app.db import get_db, utcnow

# scope="function": the commit happens before the response leaves, so an acknowledged
# write is a durable write.
DbSession = Annotated[Session, Depends(get_db, scope="function")]

# Dependencies that do no I/O are `async def`: FastAPI runs a plain `def` dependency in the
# thread pool, and each such hop costs more than the work itself.


async def app_settings() -> Settings:
    """The settings; tests override this dependency."""
    return get_settings()


AppSettings = Annotated[Settings, Depends(app_settings)]


async def get_now() -> datetime:
    """The server's clock; tests override this dependency to control time."""
    return utcnow()


Now = Annotated[datetime, Depends(get_now)]
