"""Reading request bodies safely: media type, size limit, card-data screen, then JSON."""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from checkout_api.api.problems import validation_problem
from checkout_api.checkout.pci import contains_card_number
from checkout_api.errors import CardDataRejected, PayloadTooLarge, UnsupportedMediaType

M = TypeVar("M", bound=BaseModel)


def require_json(request: Request) -> None:
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise UnsupportedMediaType()


async def read_limited(request: Request, limit: int) -> bytes:
    """The raw body, refusing more than `limit` bytes whatever Content-Length claims."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The body may be at most {limit} bytes.")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The body may be at most {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json_model(request: Request, model: type[M], limit: int) -> M:
    require_json(request)
    body = await read_limited(request, limit)
    if contains_card_number(body):
        raise CardDataRejected()
    try:
        return model.model_validate_json(body)
    except ValidationError as error:
        raise validation_problem(
            [dict(item) for item in error.errors(include_url=False, include_input=False)]
        ) from None


def documented_json_body(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` for a route that reads its body itself (so FastAPI does not document it).

    The model's schema is inlined, nested models included: a `$ref` to a component FastAPI
    never emits would dangle, and clients generated from the document would break.
    """
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            reference = node.get("$ref", "")
            if reference.startswith("#/$defs/"):
                return inline(definitions[reference.removeprefix("#/$defs/")])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(value) for value in node]
        return node

    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": inline(schema)}},
        }
    }
