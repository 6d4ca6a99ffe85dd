"""The JSON body an endpoint reads itself (the save's hot path): FastAPI's refusals."""

import pytest
from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.requests import Request

from app.web.bodies import body_schema, json_body
from tests.support.aio import run


class Shape(BaseModel):
    seq: int = Field(ge=1)
    tags: list[str] | None = None


def request(*messages: dict, content_type: str | None = "application/json") -> Request:
    headers = [] if content_type is None else [(b"content-type", content_type.encode())]
    pending = list(messages)

    async def receive():
        return pending.pop(0)

    return Request({"type": "http", "method": "PUT", "headers": headers}, receive)


def body(data: bytes, *, more: bool = False) -> dict:
    return {"type": "http.request", "body": data, "more_body": more}


def read(req: Request) -> Shape:
    return run(json_body, req, Shape)


def errors(req: Request) -> list[dict]:
    with pytest.raises(RequestValidationError) as refused:
        read(req)
    return [{k: e[k] for k in ("type", "loc", "msg")} for e in refused.value.errors()]


def test_a_body_in_several_parts_is_read_whole():
    req = request(body(b'{"seq": 3, ', more=True), body(b'"tags": ["a"]}'))
    assert read(req) == Shape(seq=3, tags=["a"])


def test_a_client_gone_before_the_end_of_its_body_gets_400():
    req = request(body(b'{"seq": 3, ', more=True), {"type": "http.disconnect"})
    with pytest.raises(HTTPException) as refused:
        read(req)
    assert (refused.value.status_code, refused.value.detail) == (
        400,
        "Requête interrompue avant la fin de son contenu.",
    )


def test_no_content_type_is_not_json():
    assert errors(request(body(b'{"seq": 3}'), content_type=None)) == [
        {
            "type": "model_attributes_type",
            "loc": ("body",),
            "msg": "Input should be a valid dictionary or object to extract fields from",
        }
    ]


def test_nested_errors_say_where():
    assert errors(request(body(b'{"seq": 1, "tags": ["a", 2]}'))) == [
        {"type": "string_type", "loc": ("body", "tags", 1), "msg": "Input should be a valid string"}
    ]


def test_the_schema_describes_the_body():
    assert body_schema(Shape)["requestBody"]["content"]["application/json"]["schema"][
        "required"
    ] == ["seq"]
