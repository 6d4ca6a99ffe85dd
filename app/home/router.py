"""``/``: the logged-in user's home page, one per role."""

from fastapi import APIRouter, Request

from app.attempts import service as attempts_service
from app.attempts import views as attempts_views
from app.auth import service as auth_service
from app.auth.dependencies import CurrentUser
from app.auth.roles import Role
from app.banks import service as banks_service
from app.dependencies import DbSession, Now
from app.sessions import service as sessions_service
from app.web.templating import templates

router = APIRouter(include_in_schema=False)


@router.get("/")
def home(request: Request, user: CurrentUser, session: DbSession, now: Now):
    context: dict = {"user": user}
    if user.role == Role.CANDIDAT:
        context["questionnaires"] = [
            attempts_views.questionnaire_status(q, e, a, now=now)
            for q, e, a in attempts_service.attempts_of_user(session=session, user_id=user.id)
        ]
    if user.role in (Role.FORMATEUR, Role.ADMIN):
        context["banks"] = banks_service.list_banks(session=session)
    if user.role in (Role.JURY, Role.ADMIN):
        context["sessions"] = sessions_service.list_sessions(session=session)
    if user.role == Role.ADMIN:
        context["role_counts"] = auth_service.count_users_by_role(session=session)
    return templates.TemplateResponse(request, f"home/{user.role.value}.html", context)
