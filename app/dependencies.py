"""Request-wide dependencies shared by every domain."""

from typing import Annotated

from fastapi import Depends
from sqlalchemy.orm import Session

from app.config import Settings, get_settings
from app.db import get_db

# scope="function": the commit happens before the response leaves, so an acknowledged
# write is a durable write.
DbSession = Annotated[Session, Depends(get_db, scope="function")]
AppSettings = Annotated[Settings, Depends(get_settings)]
