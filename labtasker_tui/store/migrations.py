"""Schema migrations: each step takes the schema from version N to N+1 inside one transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from .schema import SCHEMA_VERSION, schema_info

# version N -> coroutine that upgrades N to N+1. v1 is the first schema: nothing yet.
STEPS: dict[int, Callable[[AsyncConnection], Awaitable[None]]] = {}


async def migrate(conn: AsyncConnection, from_version: int) -> None:
    version = from_version
    while version < SCHEMA_VERSION:
        step = STEPS.get(version)
        if step is None:
            raise RuntimeError(f"no migration from schema v{version}")
        await step(conn)
        version += 1
    await conn.execute(
        update(schema_info).where(schema_info.c.key == "schema_version").values(value=str(version))
    )
