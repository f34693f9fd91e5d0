"""The state file's structure, checked on every load (mboxed.state): a
model per part, strict like profiles.

Strict: an int is not a bool or a string, and a key the engine does not
write is refused. Outputs stay free-form mappings, except the users step's,
which commands read as records. A new top-level state key needs a model here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class _Open(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")


class _JournalEntry(_Strict):
    kind: str
    data: dict[str, Any] = {}
    at: str | None = None


class _UserRecord(_Open):
    name: str
    uid: int | None = None
    gid: int | None = None
    password: str | None = None
    groups: list[str] = []


class _GroupRecord(_Open):
    name: str
    gid: int | None = None
    members: list[str] = []


class _UsersOutputs(_Open):
    users: list[_UserRecord] = []
    groups: list[_GroupRecord] = []
    removed: list[_UserRecord | str] = []


class _ClusterOutputs(_Open):
    """What status, users, verify and the later steps read of the cluster step."""

    provider: str | None = None
    hostname: str | None = None
    ingress_address: str | None = None
    https_port: int | None = None
    host_http_port: int | None = None
    host_https_port: int | None = None
    created_by_mboxed: bool | None = None


class _TlsOutputs(_Open):
    ca_cert: str | None = None
    cert: str | None = None
    key: str | None = None
    hostname: str | None = None


# The outputs of the steps that commands read as records (the others stay free-form).
_OUTPUTS: dict[str, type[BaseModel]] = {
    "users": _UsersOutputs,
    "cluster": _ClusterOutputs,
    "tls": _TlsOutputs,
}


class _StepRecord(_Strict):
    status: Literal["running", "done", "failed", "interrupted", "undone"] | None = None
    started: str | None = None
    ended: str | None = None
    duration: float | None = None
    inputs_hash: str | None = None
    error: str | None = None
    actions: list[str] = []
    outputs: dict[str, Any] = {}
    journal: list[_JournalEntry] = []


class _ProfileRef(_Strict):
    name: str
    files: list[str] = []
    set: list[str] = []


class _LastRun(_Strict):
    command: str
    started: str
    result: str
    ended: str | None = None


class _TaskItem(_Open):
    """One item of a background task (mboxed/tasks.py); results ride along."""

    status: str
    label: str | None = None
    bytes: int | None = None
    total: int | None = None
    error: str | None = None


class _Task(_Open):
    status: str | None = None
    started: str | None = None
    ended: str | None = None
    items: dict[str, _TaskItem] = Field(default_factory=dict)


class _StateFile(_Strict):
    schema_: int = Field(alias="schema")
    deployment: str | None = None
    created: str | None = None
    updated: str | None = None
    profile: _ProfileRef | None = None
    last_run: _LastRun | None = None
    options: dict[str, Any] | None = None
    steps: dict[str, _StepRecord]
    tasks: dict[str, _Task] | None = None


def _problems(model: type[BaseModel], value: Any, prefix: tuple[str, ...]) -> list[str]:
    try:
        model.model_validate(value)
    except ValidationError as exc:
        out = []
        for error in exc.errors():
            loc = ".".join((*prefix, *(str(part) for part in error["loc"])))
            got = "" if error["type"] == "missing" else f" (got {short(error.get('input'))})"
            message = error["msg"].split(" or instance of ")[0]  # strict mode names our classes
            out.append(f"{loc}: {message}{got}")
        return out
    return []


def short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def problems(data: dict[str, Any]) -> list[str]:
    """What is wrong with a state file's data, each with its key path."""
    found = _problems(_StateFile, data, ())
    for step, model in _OUTPUTS.items():
        if found:
            break
        outputs = data["steps"].get(step, {}).get("outputs") or {}
        found = _problems(model, outputs, ("steps", step, "outputs"))
    return found
