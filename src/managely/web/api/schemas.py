"""The objects the API answers, built from the same rows the HTML pages show."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from managely.models.launches import Launch
from managely.models.operations import SaaSOperation


class SystemOut(BaseModel):
    code: str
    subdomain: str
    status: str
    url: str
    package: str
    is_trial: bool
    created_at: datetime


class OperationOut(BaseModel):
    code: str
    kind: str
    status: str
    progress: int
    current_step: str
    error: str
    system: str | None
    created_at: datetime
    finished_at: datetime | None


class Started(BaseModel):
    """The operation started; follow it at ``/api/v1/operations/{code}``."""

    operation: OperationOut


def system_out(launch: Launch) -> SystemOut:
    return SystemOut(
        code=launch.code,
        subdomain=launch.subdomain,
        status=str(launch.status),
        url=launch.url,
        package=launch.package.slug,
        is_trial=launch.is_trial,
        created_at=launch.created_at,
    )


async def operation_out(operation: SaaSOperation) -> OperationOut:
    launch = await operation.launch if operation.launch_id else None
    return OperationOut(
        code=operation.code,
        kind=str(operation.kind),
        status=str(operation.status),
        progress=operation.progress,
        current_step=operation.current_step,
        error=operation.error_message,
        system=launch.code if launch else None,
        created_at=operation.created_at,
        finished_at=operation.finished_at,
    )


async def started(operation: SaaSOperation) -> tuple[Started, int]:
    return Started(operation=await operation_out(operation)), 202
