"""Errors become French pages for browsers and JSON for the API, never a traceback."""

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.auth.dependencies import CSRFError, Forbidden, LoginRequired
from app.web.templating import redirect, templates

_STATUS_TEXT = {
    400: "Requête invalide.",
    401: "Connexion requise.",
    403: "Accès refusé : votre rôle ne permet pas d'ouvrir cette page.",
    404: "Page introuvable.",
    405: "Méthode non autorisée.",
    422: "Données invalides.",
    429: "Trop de requêtes.",
    500: "Erreur interne : l'incident est enregistré, réessayez dans un instant.",
}


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error(request: Request, status: int, detail: str, headers=None) -> Response:
    if _is_api(request):
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)
    return templates.TemplateResponse(
        request,
        "error.html",
        {"status": status, "detail": detail},
        status_code=status,
        headers=headers,
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        detail = "Session expirée : reconnectez-vous." if exc.expired else "Connexion requise."
        if _is_api(request):
            return JSONResponse(
                {"detail": detail}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
            )
        return redirect(request, f"/connexion?suivant={quote(request.url.path)}")

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        return _error(request, 403, _STATUS_TEXT[403])

    @app.exception_handler(CSRFError)
    async def _csrf(request: Request, exc: CSRFError) -> Response:
        return _error(
            request,
            403,
            "Jeton de sécurité (CSRF) absent ou invalide : rechargez la page puis recommencez.",
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail else None
        if detail is None or detail in ("Not Found", "Method Not Allowed"):
            detail = _STATUS_TEXT.get(exc.status_code, "Erreur.")
        return _error(request, exc.status_code, detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(OverflowError)  # SQLite: « Python int too large to convert »
    @app.exception_handler(DataError)  # PostgreSQL: « integer out of range » (SQLSTATE 22003)
    async def _out_of_range(request: Request, exc: Exception) -> Response:
        """An identifier beyond the database's integers (/attempts/2147483648) names no row."""
        if isinstance(exc, DataError) and getattr(exc.orig, "sqlstate", None) != "22003":
            raise exc
        return _error(request, 404, _STATUS_TEXT[404])

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        if _is_api(request):
            errors = [
                {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()
            ]
            return JSONResponse({"detail": errors}, status_code=422)
        return _error(request, 422, _STATUS_TEXT[422])
