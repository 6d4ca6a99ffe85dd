"""The certification's referential, for every logged-in user (JSON API and page)."""

from fastapi import APIRouter, Request

from app.auth.dependencies import CurrentUser
from app.referential.model import default_referential
from app.web.templating import templates

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["référentiel"])


@api.get("/referential", summary="Le référentiel de la certification")
def get_referential(_user: CurrentUser) -> dict:
    return default_referential().model_dump(mode="json")


@router.get("/referentiel")
def referential_page(request: Request, user: CurrentUser):
    referential = default_referential()
    labels = {m.id: m.label for m in referential.modalities}
    labels |= {f"questionnaire:{q.id}": q.title for q in referential.questionnaires}
    return templates.TemplateResponse(
        request,
        "referential/index.html",
        {"user": user, "referential": referential, "modality_labels": labels},
    )
