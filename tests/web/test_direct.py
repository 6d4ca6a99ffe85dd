"""Routes FastAPI describes but does not resolve (app/web/direct.py)."""

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from app.web.direct import DirectRoute, resolved

called: list[str] = []


async def clock() -> str:
    return "real clock"


async def app_wide() -> None:
    called.append("app-wide dependency")


def app_with_twin_routes() -> FastAPI:
    """The same endpoint twice: resolved by FastAPI, and on a DirectRoute."""
    app, router = FastAPI(dependencies=[Depends(app_wide)]), APIRouter()

    async def endpoint(
        item_id: int, name: str, request: Request, now: Annotated[str, Depends(clock)] = "unset"
    ) -> JSONResponse:
        if now == "unset":  # a direct route resolves nothing: the endpoint asks itself
            now = await resolved(request, clock)
        return JSONResponse({"item_id": item_id, "name": name, "now": now})

    for prefix, route_class in (("/resolved", None), ("/direct", DirectRoute)):
        router.add_api_route(
            prefix + "/{item_id}/{name}",
            endpoint,
            methods=["PUT"],
            route_class_override=route_class,
            summary="Un objet",
        )
    app.include_router(router)  # as the application includes its routers
    return app


def test_the_endpoint_gets_the_request_and_its_typed_path():
    called.clear()
    client = TestClient(app_with_twin_routes())
    response = client.put("/direct/7/sept")
    assert (response.status_code, response.json()) == (
        200,
        {"item_id": 7, "name": "sept", "now": "real clock"},
    )
    assert called == []  # no dependency resolved, the app's own included
    client.put("/resolved/7/sept")
    assert called == ["app-wide dependency"]


def test_path_refusals_are_fastapis():
    client = TestClient(app_with_twin_routes())
    for bad in ("x", "1.5", "9" * 30 + "x"):
        direct = client.put(f"/direct/{bad}/nom")
        assert direct.status_code == 422
        assert direct.json() == client.put(f"/resolved/{bad}/nom").json()
    assert client.put("/direct/x/nom").json()["detail"][0]["loc"] == ["path", "item_id"]


def test_resolved_honours_the_apps_overrides():
    app = app_with_twin_routes()
    app.dependency_overrides[clock] = lambda: "test clock"  # a plain function, as tests do
    response = TestClient(app).put("/direct/1/un")
    assert response.json()["now"] == "test clock"


def test_described_as_the_resolved_route():
    schema = app_with_twin_routes().openapi()["paths"]
    direct, resolved_route = (
        schema["/direct/{item_id}/{name}"],
        schema["/resolved/{item_id}/{name}"],
    )
    assert direct["put"]["parameters"] == resolved_route["put"]["parameters"]
    assert [p["name"] for p in direct["put"]["parameters"]] == ["item_id", "name"]
    assert direct["put"]["summary"] == "Un objet"
