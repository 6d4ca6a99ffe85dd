"""A JSON body validated by the endpoint itself, and shown in the API schema all the same.

For the hot path (a candidate's save): FastAPI's own body handling and response
serialisation cost about a tenth of that request's processor time (measured in process:
1.05 ms against 0.93 ms). The refusals keep FastAPI's shape, so clients see no difference.
"""

import json
from typing import Any, TypeVar

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect

ModelT = TypeVar("ModelT", bound=BaseModel)


def body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads ``model`` with ``json_body``."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


async def json_body(request: Request, model: type[ModelT]) -> ModelT:
    """The request's JSON body as ``model``; RequestValidationError as FastAPI raises it."""
    try:
        raw = await request.body()
    except ClientDisconnect:  # gone before its body arrived: nobody reads the answer
        raise HTTPException(400, "Requête interrompue avant la fin de son contenu.") from None
    content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if not raw:
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
        )
    if content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    ):
        try:
            data: Any = json.loads(raw)
        except json.JSONDecodeError as error:
            raise RequestValidationError(
                [
                    {
                        "type": "json_invalid",
                        "loc": ("body", error.pos),
                        "msg": "JSON decode error",
                        "input": {},
                        "ctx": {"error": error.msg},
                    }
                ]
            ) from None
    else:
        data = raw  # not JSON: refused below, as FastAPI does
    try:
        return model.model_validate(data, from_attributes=True)  # as FastAPI validates
    except ValidationError as error:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in error.errors(include_url=False)]
        ) from None
