"""Question banks: the list for staff (JSON API and page)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from app.auth.dependencies import require_roles
from app.auth.models import UserAccount
from app.auth.roles import Role
from app.banks import service as banks_service
from app.banks.schemas import BankRead, BankVersionRead
from app.clock import paris_date
from app.dependencies import DbSession, Now
from app.web.templating import templates

Staff = Annotated[UserAccount, Depends(require_roles(Role.FORMATEUR, Role.JURY, Role.ADMIN))]

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["banques"])


@api.get("/banks", response_model=list[BankRead], summary="Banques de questions et versions")
def list_banks(session: DbSession, _user: Staff) -> list[BankRead]:
    return [
        BankRead(
            id=bank.id,
            title=bank.title,
            theme=bank.theme,
            versions=[BankVersionRead.model_validate(v) for v in versions],
        )
        for bank, versions in banks_service.list_banks(session=session)
    ]


@router.get("/banques/fraicheur")
def freshness_page(request: Request, session: DbSession, user: Staff, now: Now, jours: int = 30):
    from app.sessions import service as sessions_service

    days = max(0, min(jours, 730))
    return templates.TemplateResponse(
        request,
        "banks/freshness.html",
        {
            "user": user,
            "days": days,
            "today": paris_date(now),
            "banks": banks_service.freshness(
                session=session, on_date=paris_date(now), within_days=days
            ),
            "sessions": sessions_service.open_sessions_freshness(
                session=session, now=now, within_days=days
            ),
        },
    )


@router.get("/banques")
def banks_page(request: Request, session: DbSession, user: Staff):
    return templates.TemplateResponse(
        request,
        "banks/list.html",
        {"user": user, "banks": banks_service.list_banks(session=session)},
    )
