"""The ASGI application."""

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text

from app.analysis import router as analysis_router
from app.attempts import router as attempts_router
from app.attempts.sweeper import sweeper_lifespan
from app.auth import router as auth_router
from app.auth.dependencies import csrf_protect
from app.banks import authoring as authoring_router
from app.banks import router as banks_router
from app.config import get_settings
from app.db import close_loop_engines, request_slots
from app.dependencies import DbSession
from app.gdpr import router as gdpr_router
from app.home import router as home_router
from app.records import router as records_router
from app.referential import router as referential_router
from app.sessions import router as sessions_router
from app.web.admission import AdmissionMiddleware, urgent_requests
from app.web.errors import install_error_handlers
from app.web.security import SecurityHeadersMiddleware
from app.web.templating import STATIC_DIR

API_DESCRIPTION = (
    "API de ccpq : questionnaires thématiques et dossier candidat du titre "
    "« Chargé de clientèle particuliers – Niveau 6 ». Authentification : "
    "`POST /api/v1/auth/login` renvoie un jeton à envoyer en `Authorization: Bearer`."
)


@asynccontextmanager
async def serving_lifespan(app: FastAPI) -> AsyncIterator[None]:
    # What start-up built (modules, routes, mappers, templates) lives as long as the
    # worker: the collector need not scan it again. Measured: full collections otherwise
    # cost a start of a sitting's burst about a third of its CPU.
    gc.freeze()
    try:
        async with sweeper_lifespan(app):
            yield
    finally:
        await close_loop_engines()


def create_app(*, sweeper: bool = True) -> FastAPI:
    app = FastAPI(
        lifespan=serving_lifespan if sweeper else None,
        title="ccpq",
        version="0.1.0",
        description=API_DESCRIPTION,
        dependencies=[Depends(csrf_protect)],
        docs_url=None,  # Swagger UI loads scripts from a CDN: no CDN under our CSP
        redoc_url=None,
    )
    settings = get_settings()
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(
        AdmissionMiddleware,
        slots=request_slots(settings.database_url, settings.db_concurrency),
        urgent=urgent_requests(app),
    )
    install_error_handlers(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # Routes are tried in order: a sitting's requests (the candidates') first.
    for module in (
        attempts_router,
        auth_router,
        home_router,
        banks_router,
        referential_router,
        sessions_router,
        records_router,
        analysis_router,
        authoring_router,
        gdpr_router,
    ):
        if hasattr(module, "api"):  # /api/v1 never collides with a page
            app.include_router(module.api)
        app.include_router(module.router)

    app.router.routes[:0] = attempts_router.HOT_ROUTES  # a sitting's hot paths, first of all
    if settings.bench_baseline:
        from app.web.baseline import ROUTES

        # First in the table: the bare reference pays no routing over the application's.
        app.router.routes[:0] = ROUTES

    @app.get("/api/v1/health", tags=["système"], summary="État du service")
    def health(session: DbSession) -> dict[str, str]:
        session.execute(text("SELECT 1"))
        return {"status": "ok", "database": "ok"}

    return app


app = create_app()
