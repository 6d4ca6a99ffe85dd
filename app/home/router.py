"""``/``: the logged-in user's home page, one per role."""

from fastapi import APIRouter, Request

from app.auth import service as auth_service
from app.auth.dependencies import CurrentUser
from app.auth.roles import Role
from app.banks import service as banks_service
from app.dependencies import DbSession
from app.web.templating import templates

router = APIRouter(include_in_schema=False)


@router.get("/")
def home(request: Request, user: CurrentUser, session: DbSession):
    context: dict = {"user": user}
    if user.role in (Role.FORMATEUR, Role.ADMIN):
        context["banks"] = banks_service.list_banks(session=session)
    if user.role == Role.ADMIN:
        context["role_counts"] = auth_service.count_users_by_role(session=session)
    return templates.TemplateResponse(request, f"home/{user.role.value}.html", context)
