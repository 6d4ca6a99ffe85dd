"""Routes that FastAPI describes but does not resolve: for the hot path of a sitting.

A candidate's save is the request a sitting sends most. Served on such a route, ahead of
the included routers, it costs the server about a sixth less processor time at full load
on SQLite (README, "Banc de charge"). The route keeps its place in the route table and the
OpenAPI schema, and FastAPI's refusals of its path parameters; its endpoint does the rest
itself: ``resolved`` for the clock and the settings (tests override them), the CSRF check,
``json_body`` for the body.
"""

import inspect
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute


class DirectRoute(APIRoute):
    """An API route whose endpoint is called with the request and its path parameters alone.

    Nothing else of the signature is resolved: no ``Depends``, no app-level dependency
    (the endpoint runs the CSRF check itself), no body. The endpoint returns its Response;
    the response model only describes it in the schema.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = self.endpoint
        # A route that matched has all its path parameters: each one is only validated.
        path_fields = [(field.name, field.alias, field) for field in self.dependant.path_params]

        async def handler(request: Request) -> Response:
            values, errors = {}, []
            for name, alias, field in path_fields:
                value, field_errors = field.validate(
                    request.path_params[alias], loc=("path", alias)
                )
                errors.extend(field_errors)
                values[name] = value
            if errors:
                raise RequestValidationError(errors)
            return await endpoint(request=request, **values)

        return handler


async def resolved(request: Request, dependency: Callable[[], Any]) -> Any:
    """What ``dependency`` (a function of no parameter) gives, the app's overrides honoured."""
    value = request.app.dependency_overrides.get(dependency, dependency)()
    return await value if inspect.isawaitable(value) else value
