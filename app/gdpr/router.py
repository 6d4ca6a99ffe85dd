"""``/confidentialite``: the privacy notice, public (linked from every page's footer)."""

from fastapi import APIRouter, Request

from app.auth.dependencies import CurrentAuth
from app.dependencies import AppSettings
from app.web.templating import templates

router = APIRouter(include_in_schema=False)


@router.get("/confidentialite")
def privacy_page(request: Request, auth: CurrentAuth, settings: AppSettings):
    return templates.TemplateResponse(
        request,
        "gdpr/confidentialite.html",
        {"user": auth.user, "retention_years": settings.retention_years},
    )
