"""Operations: the customer's list (``get_operations``) and one with its steps. Staff holding
``operations.view`` read any operation, as on the HTML progress page."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from quart import Blueprint, g
from quart_schema import validate_querystring, validate_response

from managely.services import listings, operations
from managely.web.api.base import PageInfo, PageQuery, endpoint
from managely.web.api.schemas import OperationOut, operation_out

bp = Blueprint("operations", __name__, url_prefix="/operations")


class OperationList(BaseModel):
    items: list[OperationOut]
    page: PageInfo


class StepOut(BaseModel):
    name: str
    status: str
    started_at: datetime | None
    finished_at: datetime | None


class OperationDetail(OperationOut):
    steps: list[StepOut]


@bp.get("")
@endpoint("read")
@validate_querystring(PageQuery)
@validate_response(OperationList)
async def get_operations(query_args: PageQuery):
    """The operations the customer started, newest first."""
    page = await listings.operations(g.user, query_args.cursor, query_args.limit)
    return OperationList(
        items=[await operation_out(operation) for operation in page.items],
        page=PageInfo(next_cursor=page.next_cursor),
    )


@bp.get("/<code>")
@endpoint("read")
@validate_response(OperationDetail)
async def get_operation(code: str):
    """One operation with its steps."""
    staff = "operations.view" in g.permissions
    operation = await operations.get_operation_for_user(g.user, code, staff=staff)
    steps = await operations.steps_of(operation)
    return OperationDetail(
        **(await operation_out(operation)).model_dump(),
        steps=[
            StepOut(
                name=step.name,
                status=str(step.status),
                started_at=step.started_at,
                finished_at=step.finished_at,
            )
            for step in steps
        ],
    )
