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
AppSettings = Annotated[Settings, Depends(get_settings)]


def get_now() -> datetime:
    """The server's clock; tests override this dependency to control time."""
    return utcnow()


Now = Annotated[datetime, Depends(get_now)]
