"""Trainers' web authoring: browse and filter versions, drafts with a live preview,
publish, diff, YAML export."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import Response

from app.attempts.views import TRUE_FALSE_OPTIONS
from app.auth.dependencies import require_roles
from app.auth.models import UserAccount
from app.auth.roles import Role
from app.banks import drafts as drafts_service
from app.banks import service as banks_service
from app.banks.diff import diff_documents
from app.banks.format import BankFileError
from app.banks.stats import is_valid_on
from app.clock import paris_date
from app.dependencies import AppSettings, DbSession, Now
from app.web.templating import is_htmx, redirect, templates

Author = Annotated[UserAccount, Depends(require_roles(Role.FORMATEUR, Role.ADMIN))]
Reader = Annotated[UserAccount, Depends(require_roles(Role.FORMATEUR, Role.JURY, Role.ADMIN))]

router = APIRouter(include_in_schema=False)


def _document(session, bank_id: str, version: str):
    try:
        return banks_service.get_document(session=session, bank_id=bank_id, version=version)
    except banks_service.BankNotFound as error:
        raise HTTPException(404, str(error)) from None


def _draft(session, draft_id: int):
    try:
        return drafts_service.get_draft(session=session, draft_id=draft_id)
    except drafts_service.DraftError as error:
        raise HTTPException(404, str(error)) from None


def preview_question(question: dict, *, position: int, total: int) -> dict:
    """The question as the candidate's page shows it (options in the author's order)."""
    if question["type"] == "numeric":
        options = None
    elif question["type"] == "true_false":
        options = [{"id": i, "text": t} for i, t in TRUE_FALSE_OPTIONS]
    else:
        options = [{"id": o["id"], "text": o["text"]} for o in question["options"]]
    return {
        "type": question["type"],
        "stem": question["stem"],
        "options": options,
        "unit": question.get("unit"),
        "response": None,
        "position": position,
        "total": total,
    }


@router.get("/banques/{bank_id}")
def bank_page(bank_id: str, request: Request, session: DbSession, user: Reader):
    versions = banks_service.versions_of(session=session, bank_id=bank_id)
    if not versions:
        raise HTTPException(404, f"Banque « {bank_id} » introuvable.")
    return templates.TemplateResponse(
        request,
        "banks/bank.html",
        {
            "user": user,
            "bank_id": bank_id,
            "versions": versions,
            "drafts": drafts_service.drafts_of(session=session, bank_id=bank_id),
        },
    )


@router.get("/banques/{bank_id}/versions/{version}")
def version_page(
    bank_id: str,
    version: str,
    request: Request,
    session: DbSession,
    user: Reader,
    now: Now,
    sujet: str = "",
    competence: str = "",
    type: str = "",
    difficulte: str = "",
    valide_le: Annotated[date | None, Query()] = None,
):
    document = _document(session, bank_id, version)
    questions = [
        q
        for q in document.questions
        if (not sujet or q.topic == sujet)
        and (not competence or competence in (q.competences or ()))
        and (not type or q.type == type)
        and (not difficulte or str(q.difficulty) == difficulte)
        and (valide_le is None or is_valid_on(q, valide_le))
    ]
    return templates.TemplateResponse(
        request,
        "banks/version.html",
        {
            "user": user,
            "document": document,
            "questions": questions,
            "filters": {
                "sujet": sujet,
                "competence": competence,
                "type": type,
                "difficulte": difficulte,
                "valide_le": valide_le.isoformat() if valide_le else "",
            },
            "today": paris_date(now),
        },
    )


@router.get("/banques/{bank_id}/versions/{version}/export.yaml")
def export_yaml(bank_id: str, version: str, session: DbSession, user: Reader):
    from app.banks.interchange.yamlio import dump_bank

    document = _document(session, bank_id, version)
    return Response(
        dump_bank(document.model_dump(mode="json")).encode("utf-8"),
        media_type="application/yaml; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{bank_id}-{version}.yaml"'},
    )


@router.get("/banques/{bank_id}/diff")
def diff_page(
    bank_id: str,
    request: Request,
    session: DbSession,
    user: Reader,
    de: str,
    a: str,
):
    old, new = _document(session, bank_id, de), _document(session, bank_id, a)
    return templates.TemplateResponse(
        request,
        "banks/diff.html",
        {
            "user": user,
            "bank_id": bank_id,
            "diff": diff_documents(old, new),
            "old": old,
            "new": new,
        },
    )


@router.post("/banques/{bank_id}/brouillons")
def create_draft(
    bank_id: str,
    request: Request,
    session: DbSession,
    user: Author,
    now: Now,
    version: Annotated[str, Form(max_length=20)],
):
    _document(session, bank_id, version)
    draft = drafts_service.create_draft(
        session=session, bank_id=bank_id, version=version, actor=user.login, now=now
    )
    return redirect(request, f"/brouillons/{draft.id}")


def _draft_page(request, user, draft, *, error=None, status=200, published=None):
    return templates.TemplateResponse(
        request,
        "banks/draft.html",
        {"user": user, "draft": draft, "error": error, "published": published},
        status_code=status,
    )


@router.get("/brouillons/{draft_id}")
def draft_page(draft_id: int, request: Request, session: DbSession, user: Author):
    return _draft_page(request, user, _draft(session, draft_id))


def _editor(request, user, draft, *, index, text, issues=(), status=200):
    question, _ = drafts_service.check_question(
        draft.content, index=index, text=text, catalog=banks_service.default_catalog()
    )
    return templates.TemplateResponse(
        request,
        "banks/editor.html",
        {
            "user": user,
            "draft": draft,
            "index": index,
            "text": text,
            "issues": issues,
            "preview": preview_question(
                question,
                position=(index + 1) if index is not None else len(draft.content["questions"]) + 1,
                total=len(draft.content["questions"]) + (index is None),
            )
            if question
            else None,
        },
        status_code=status,
    )


def _index(draft, index: str) -> int | None:
    if index == "nouvelle":
        return None
    try:
        position = int(index)
    except ValueError:
        raise HTTPException(404, "Question introuvable.") from None
    if not 0 <= position < len(draft.content["questions"]):
        raise HTTPException(404, "Question introuvable.")
    return position


@router.get("/brouillons/{draft_id}/questions/{index}")
def editor_page(draft_id: int, index: str, request: Request, session: DbSession, user: Author):
    draft = _draft(session, draft_id)
    position = _index(draft, index)
    if position is None:
        topic = next(iter(draft.content["topics"]))
        text = drafts_service.NEW_QUESTION.format(topic=topic)
    else:
        text = drafts_service.question_yaml(draft.content["questions"][position])
    return _editor(request, user, draft, index=position, text=text)


@router.post("/brouillons/{draft_id}/questions/{index}")
def save_question(
    draft_id: int,
    index: str,
    request: Request,
    session: DbSession,
    user: Author,
    now: Now,
    text: Annotated[str, Form(max_length=50_000)],
):
    draft = _draft(session, draft_id)
    position = _index(draft, index)
    try:
        drafts_service.save_question(
            session=session,
            draft=draft,
            index=position,
            text=text,
            catalog=banks_service.default_catalog(),
            now=now,
        )
    except BankFileError as error:
        return _editor(
            request, user, draft, index=position, text=text, issues=error.issues, status=400
        )
    return redirect(request, f"/brouillons/{draft.id}")


@router.post("/brouillons/{draft_id}/apercu")
def live_preview(
    draft_id: int,
    request: Request,
    session: DbSession,
    user: Author,
    text: Annotated[str, Form(max_length=50_000)] = "",
    index: Annotated[str, Form()] = "nouvelle",
):
    """The htmx fragment under the editor: the candidate's view, or the problems found."""
    draft = _draft(session, draft_id)
    position = _index(draft, index)
    question, issues = drafts_service.check_question(
        draft.content, index=position, text=text, catalog=banks_service.default_catalog()
    )
    total = len(draft.content["questions"]) + (position is None)
    return templates.TemplateResponse(
        request,
        "banks/_preview.html",
        {
            "issues": issues,
            "preview": preview_question(
                question,
                position=(position if position is not None else total - 1) + 1,
                total=total,
            )
            if question
            else None,
        },
    )


@router.post("/brouillons/{draft_id}/questions/{index}/supprimer")
def delete_question(
    draft_id: int, index: str, request: Request, session: DbSession, user: Author, now: Now
):
    draft = _draft(session, draft_id)
    position = _index(draft, index)
    try:
        drafts_service.delete_question(session=session, draft=draft, index=position, now=now)
    except drafts_service.DraftError as error:
        return _draft_page(request, user, draft, error=str(error), status=400)
    return redirect(request, f"/brouillons/{draft.id}")


@router.post("/brouillons/{draft_id}/publier")
def publish(
    draft_id: int,
    request: Request,
    session: DbSession,
    user: Author,
    now: Now,
    version: Annotated[str, Form(max_length=20)],
    summary: Annotated[str, Form(max_length=2000)] = "",
):
    draft = _draft(session, draft_id)
    bank_id = draft.bank_id
    try:
        published = drafts_service.publish(
            session=session,
            draft=draft,
            version=version.strip(),
            summary=summary,
            today=paris_date(now),
            catalog=banks_service.default_catalog(),
            actor=user.login,
            now=now,
        )
    except (drafts_service.DraftError, banks_service.BankVersionConflict) as error:
        return _draft_page(request, user, draft, error=str(error), status=400)
    return templates.TemplateResponse(
        request,
        "banks/published.html",
        {"user": user, "bank_id": bank_id, "published": published},
        headers={"HX-Redirect": f"/banques/{bank_id}"} if is_htmx(request) else None,
    )


@router.post("/banques/importer")
async def upload_bank(
    request: Request,
    session: DbSession,
    user: Author,
    now: Now,
    settings: AppSettings,
    file: Annotated[UploadFile, File()],
):
    """Import a YAML, GIFT, Moodle XML or QTI file: published at once when it is a complete
    bank, otherwise the conversion report and the YAML to complete."""
    from app.banks.format import parse_bank_bytes
    from app.banks.freshness import expired_before
    from app.banks.interchange import convert_report
    from app.banks.interchange.common import ConversionError

    data = await file.read(settings.bank_max_bytes + 1)
    filename = file.filename or "banque"
    catalog = banks_service.default_catalog()
    context: dict = {"user": user, "filename": filename, "skipped": [], "warnings": []}
    try:
        if len(data) > settings.bank_max_bytes:
            raise ConversionError(
                f"{filename} : fichier trop volumineux ({settings.bank_max_bytes} octets au plus)"
            )
        conversion = convert_report(
            data, filename=filename, target_format="yaml", catalog=catalog, today=paris_date(now)
        )
    except ConversionError as error:
        context.update(error=str(error), skipped=error.skipped)
        return templates.TemplateResponse(request, "banks/import_report.html", context, 400)
    context.update(
        skipped=conversion.skipped,
        warnings=conversion.warnings,
        yaml=conversion.data.decode("utf-8"),
    )
    try:
        document = parse_bank_bytes(
            conversion.data, filename=filename, catalog=catalog, max_bytes=settings.bank_max_bytes
        )
        outcome = banks_service.import_document(
            session=session, document=document, source=f"{filename} ({user.login})", now=now
        )
    except BankFileError as error:
        context["issues"] = error.issues
        return templates.TemplateResponse(request, "banks/import_report.html", context, 400)
    except banks_service.BankVersionConflict as error:
        context["error"] = str(error)
        return templates.TemplateResponse(request, "banks/import_report.html", context, 409)
    return templates.TemplateResponse(
        request,
        "banks/published.html",
        {
            "user": user,
            "bank_id": document.id,
            "published": drafts_service.Published(
                outcome.version, expired_before(outcome.version.content, day=paris_date(now))
            ),
            "skipped": conversion.skipped,
        },
    )
