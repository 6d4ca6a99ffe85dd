"""Question banks: the list for staff (JSON API and page)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from app.auth.dependencies import require_roles
from app.auth.models import UserAccount
from app.auth.roles import Role
from app.banks import service as banks_service
from app.banks.schemas import BankRead, BankVersionRead
from app.dependencies import DbSession
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


@router.get("/banques")
def banks_page(request: Request, session: DbSession, user: Staff):
    return templates.TemplateResponse(
        request,
        "banks/list.html",
        {"user": user, "banks": banks_service.list_banks(session=session)},
    )
