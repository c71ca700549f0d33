"""`ganserve keys create | list | revoke`: API keys in the configured store (GANSERVE_LATENTS_PATH's
SQLite file, or GANSERVE_REDIS_STORE_URL), the one every gateway reads; or, with `create --file`,
in a keys file (GANSERVE_KEYS_FILE) for a deployment's Secret."""

from __future__ import annotations

import asyncio
import datetime
import json
from pathlib import Path
from typing import Annotated

import typer

from ganserve.access.key_stores import append_to_keys_file, make_key_store
from ganserve.access.keys import Scope, new_key
from ganserve.settings import get_settings

keys_app = typer.Typer(help="API keys: create (shown once), list, revoke. docs/security.md", no_args_is_help=True)


def _when(timestamp: float | None) -> str:
    return "" if timestamp is None else datetime.datetime.fromtimestamp(timestamp, datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@keys_app.command("create")
def create(
    scope: Annotated[list[Scope], typer.Option(help="repeat for several; admin implies every scope")],
    name: Annotated[str, typer.Option(help="what it is for, shown in listings")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="print {id, key, scopes} as JSON")] = False,
    file: Annotated[
        Path | None, typer.Option(help="add the key's record (its hash) to this keys file instead of the store: GANSERVE_KEYS_FILE")
    ] = None,
) -> None:
    """Create a key and print it: this is the only time it is shown (only its hash is kept)."""
    text, key = new_key(scope, name)

    async def run() -> None:
        store = make_key_store(get_settings())
        try:
            await store.add(key)
        finally:
            await store.close()

    if file is not None:
        append_to_keys_file(file, key)
    else:
        asyncio.run(run())
    if as_json:
        typer.echo(json.dumps({"id": key.id, "key": text, "scopes": key.scopes, "name": key.name}))
    else:
        typer.echo(text)
        typer.echo(f"id {key.id}, scopes {' '.join(key.scopes)}: keep the key now, it is not shown again", err=True)


@keys_app.command("list")
def list_keys() -> None:
    """Every key: id, scopes, name, created, revoked. Never the key itself."""

    async def run():
        store = make_key_store(get_settings())
        try:
            return await store.all()
        finally:
            await store.close()

    for key in asyncio.run(run()):
        revoked = f"  revoked {_when(key.revoked)}" if key.revoked else ""
        typer.echo(f"{key.id}  {','.join(key.scopes):40}  {key.name or '-':20}  created {_when(key.created)}{revoked}")


@keys_app.command("revoke")
def revoke(id: Annotated[str, typer.Argument(help="the key's id (the part after gsk_), from `ganserve keys list`")]) -> None:
    """Revoke a key: every gateway refuses it within GANSERVE_KEY_CACHE_S."""

    async def run() -> bool:
        store = make_key_store(get_settings())
        try:
            return await store.revoke(id)
        finally:
            await store.close()

    try:
        revoked = asyncio.run(run())
    except ValueError as exc:  # a key of GANSERVE_KEYS_FILE
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    if not revoked:
        typer.echo(f"no live key {id!r}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {id}")
