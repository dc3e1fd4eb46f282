"""Pydantic models of a task (spec §1.1) and of the validated pieces users send."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationInfo,
    create_model,
    field_validator,
)

from .documents import INT64_MAX, INT64_MIN, check_json_value, validate_document
from .fields import BY_NAME, FIELD_ORDER, JSON_FIELDS, NESTED_FIELDS
from .fields import UPDATABLE_FIELDS as _UPDATABLE
from .lifecycle import (  # noqa: F401 - re-exported defaults
    DEFAULT_HEARTBEAT_TIMEOUT,
    DEFAULT_MAX_RETRIES,
    DEFAULT_PRIORITY,
    STATUSES,
)

NAME_PATTERN = r"^[a-zA-Z0-9_-]+$"
STATUS_PATTERN = "^(" + "|".join(STATUSES) + ")$"

TaskName = Annotated[str, Field(pattern=NAME_PATTERN, min_length=1, max_length=100)]
StatusStr = Annotated[str, Field(pattern=STATUS_PATTERN)]
Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
Count = Annotated[int, Field(ge=0, le=INT64_MAX)]
# Timeouts are positive: null (omitted) means no limit; 0, negative, NaN and inf are refused.
Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]
WholeSeconds = Annotated[StrictInt, Field(gt=0, le=INT64_MAX)]

UPDATABLE_FIELDS: frozenset[str] = frozenset(_UPDATABLE)
READ_ONLY_FIELDS: frozenset[str] = frozenset(FIELD_ORDER) - UPDATABLE_FIELDS
_OTHER_JSON = tuple(f for f in JSON_FIELDS if f not in NESTED_FIELDS)  # cmd: a string or list


class Task(BaseModel):
    """A stored task. ``queue_id`` holds the queue's name (queues are addressed by name).

    Its attributes are the field table's (``fields.FIELDS``: names, order, types), written out
    so that type checkers see them; tests/core/test_fields.py checks that the two agree."""

    model_config = ConfigDict(frozen=True)

    task_id: str
    queue_id: str = "default"
    status: str
    task_name: str | None = None
    created_at: datetime
    start_time: datetime | None = None
    last_heartbeat: datetime | None = None
    last_modified: datetime
    heartbeat_timeout: float | None = None
    task_timeout: int | None = None
    max_retries: int = DEFAULT_MAX_RETRIES
    retries: int = 0
    priority: int = DEFAULT_PRIORITY
    metadata: dict[str, Any] = Field(default_factory=dict)
    args: dict[str, Any] = Field(default_factory=dict)
    cmd: str | list[str] = ""
    summary: dict[str, Any] = Field(default_factory=dict)
    worker_id: str | None = None
    version: int = Field(default=1, exclude=True)
    args_hash: int | None = Field(default=None, exclude=True)

    def record(self) -> dict[str, Any]:
        """All §1.1 fields in display order (datetimes left as objects)."""
        return {k: getattr(self, k) for k in FIELD_ORDER}


#: What a user may give for an updatable field where that is narrower than the field's type
#: (``fields.FIELDS``); the other updatable fields are checked against their field's type.
USER_TYPES: dict[str, Any] = {
    "status": StatusStr | None,
    "task_name": TaskName | None,
    "heartbeat_timeout": Seconds | None,
    "task_timeout": WholeSeconds | None,
    "max_retries": Count,
    "retries": Count,
    "priority": Int64,
}


class _UserValues(BaseModel):
    """The checks of :data:`TaskFields` beyond types (its fields come from the field table)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("task_timeout", mode="before", check_fields=False)
    @classmethod
    def _int_timeout(cls, v: Any) -> Any:
        if isinstance(v, float) and v.is_integer():
            return int(v)
        return v

    @field_validator(*NESTED_FIELDS, mode="before", check_fields=False)
    @classmethod
    def _document(cls, v: Any, info: ValidationInfo) -> Any:
        # one validator for every way in (documents.validate_document); the job API converts
        # non-finite floats before it gets here
        return validate_document(v, info.field_name or "")

    @field_validator(*_OTHER_JSON, mode="before", check_fields=False)
    @classmethod
    def _json(cls, v: Any, info: ValidationInfo) -> Any:
        if isinstance(v, str | list):
            return check_json_value(v, info.field_name or "")
        return v


#: Validates user-supplied values of the updatable fields (submit, update, import, editor):
#: one field per updatable field, in table order, each defaulting to None (only the fields
#: present are checked and returned); unknown keys are refused. Messages follow pydantic's
#: ("priority: Input should be a valid integer ...").
_USER_FIELDS: dict[str, Any] = {
    name: (USER_TYPES.get(name, BY_NAME[name].type), None) for name in _UPDATABLE}
TaskFields: type[BaseModel] = create_model("TaskFields", __base__=_UserValues, **_USER_FIELDS)


def validation_message(exc: Exception) -> str:
    """One line from a pydantic ValidationError: 'field: message' for the first error."""
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        parts = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                msg = "unknown field"
            elif err["type"] == "value_error":
                msg = msg.removeprefix("Value error, ")
                if msg.startswith(loc):  # our validators name the path themselves
                    parts.append(msg)
                    continue
            parts.append(f"{loc}: {msg}")
        return "; ".join(parts)
    return str(exc)


def validate_fields(values: dict[str, Any]) -> dict[str, Any]:
    """Validate ``values`` (a subset of updatable fields) and return them normalised."""
    model = TaskFields.model_validate(values)
    return {k: getattr(model, k) for k in values}
