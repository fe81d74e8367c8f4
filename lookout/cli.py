"""The `lookout` command line: run the server, migrate, and manage access."""

from __future__ import annotations

import importlib
import logging
import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer
from typer._click.exceptions import UsageError
from typer.core import TyperGroup
from typer.main import get_command

from lookout.cli_support import cli_session, console, err_console
from lookout.config import Settings
from lookout.errors import LookoutError

if TYPE_CHECKING:
    from typer._click import Command, Context

# Every server process imports this module again before it answers uvicorn's health checks
# (uvicorn's workers start by running the `lookout` script), so it imports little: each command
# imports what it uses (the accounts, the database), and the commands defined in modules of
# their own are imported only when one runs (or `--help` lists them).
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "import-platform": ("lookout.platform_import.cli", "import_platform"),
    "import-annotations": ("lookout.annotator_import.cli", "import_annotations"),
    "export": ("lookout.exports.cli", "export"),
    "set-split": ("lookout.exports.cli", "set_split"),
    "import-dataset": ("lookout.datasets.cli", "import_dataset"),
    "evaluate": ("lookout.evaluation.cli", "evaluate"),
    "worker": ("lookout.worker.cli", "worker"),
    "rescore-queue": ("lookout.scoring.cli", "rescore_queue"),
    "sequence-groups": ("lookout.grouping.cli", "app"),
    "purge-trash": ("lookout.trash_cli", "purge_trash"),
}
LAZY_LISTED_AFTER = "demo"  # where `lookout --help` lists them


class LazyCommands(TyperGroup):
    """The top-level group: loads a command of LAZY_COMMANDS when it is first asked for."""

    def list_commands(self, ctx: Context) -> list[str]:
        names = [name for name in super().list_commands(ctx) if name not in LAZY_COMMANDS]
        at = names.index(LAZY_LISTED_AFTER) + 1
        return [*names[:at], *LAZY_COMMANDS, *names[at:]]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if cmd_name in LAZY_COMMANDS and cmd_name not in self.commands:
            self.add_command(self._load(cmd_name), cmd_name)
        return super().get_command(ctx, cmd_name)

    def resolve_command(
        self, ctx: Context, args: list[str]
    ) -> tuple[str | None, Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except UsageError:
            # An unknown command: "did you mean" chooses among every command, the lazy ones too.
            for name in LAZY_COMMANDS:
                self.get_command(ctx, name)
            return super().resolve_command(ctx, args)

    def _load(self, name: str) -> Command:
        module, function = LAZY_COMMANDS[name]
        target = getattr(importlib.import_module(module), function)
        if isinstance(target, typer.Typer):  # a group of commands (`lookout sequence-groups list`)
            return get_command(target)
        # A one-command app gives the same click command as registering it on the main app.
        single = typer.Typer(add_completion=False, rich_markup_mode=self.rich_markup_mode)
        single.command(name)(target)
        return get_command(single)


app = typer.Typer(
    cls=LazyCommands,
    help="Lookout: review machine-learning detections on camera imagery and export training data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(
    help="People who can sign in (through the proxy or with API keys).", no_args_is_help=True
)
groups_app = typer.Typer(
    help="Groups: the unit of access. Members see the group's projects.", no_args_is_help=True
)
keys_app = typer.Typer(help="API keys for scripts and pipelines.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(groups_app, name="groups")
app.add_typer(keys_app, name="apikeys")


def upgrade_database(settings: Settings) -> None:
    from lookout.migrate import upgrade

    upgrade(settings.resolved_database_url)


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(help="Address to bind. Loopback enables local mode.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 5050,
    workers: Annotated[
        int,
        typer.Option(
            min=1, help="Server processes, each listening on its own socket of the port (Linux)."
        ),
    ] = 1,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    migrate: Annotated[bool, typer.Option(help="Apply database migrations first.")] = True,
    demo: Annotated[
        bool, typer.Option("--demo", help="Load the generated demo dataset first (idempotent).")
    ] = False,
) -> None:
    """Run the Lookout server (API, web UI and docs at /docs).

    With no proxy secret configured and a loopback address, every request without credentials
    acts as a local admin ("local mode"), so the documented commands work on one machine.
    Local mode is refused on any other address.
    """
    from lookout.auth.middleware import is_loopback_host

    settings = Settings()
    local = settings.proxy_secret is None and is_loopback_host(host)
    if settings.local_mode and not is_loopback_host(host):
        err_console.print(
            f"[red]error:[/red] local mode only runs on a loopback address, not {host}"
        )
        raise typer.Exit(2)
    if local:
        os.environ["LOOKOUT_LOCAL_MODE"] = "true"
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    if migrate or demo:
        upgrade_database(settings)
    if demo:
        load_demo_data(settings)
    compile_package()
    from lookout.supervisor import serve as run_server

    mode = "local mode (no login needed on this machine)" if local else "authentication required"
    console.print(f"Lookout on http://{host}:{port} - {mode}; API docs at /docs")
    status = run_server(
        "lookout.server:serve_app",
        host=host,
        port=port,
        workers=workers,
        log_level=log_level.lower(),
    )
    raise typer.Exit(status)


def compile_package() -> None:
    """Write Lookout's own bytecode once, before the workers start.

    `uv sync` compiles the installed packages (`compile-bytecode` in pyproject.toml) but not
    the project itself when it is installed from its folder, and with PYTHONDONTWRITEBYTECODE
    set every worker would compile every module again at every start. Files already compiled
    are only checked; a folder that cannot be written to is left as it is.
    """
    import compileall
    from pathlib import Path

    import lookout

    package = Path(lookout.__file__).parent
    try:
        compileall.compile_dir(package, quiet=2, workers=1)
    except OSError as exc:
        logging.getLogger(__name__).debug("bytecode not written in %s: %s", package, exc)


def load_demo_data(settings: Settings, group: str = "default") -> None:
    from lookout.demo.loader import load_demo

    console.print("loading the demo dataset…")
    try:
        summary = load_demo(settings, group=group)
    except LookoutError as exc:
        err_console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    console.print(summary.describe())


@app.command()
def demo(
    group: Annotated[str, typer.Option(help="Group that owns the demo project.")] = "default",
) -> None:
    """Load a small generated demo dataset into the configured data folder (idempotent).

    One project with two cameras, eight sequences of plume-like frames with the platform's
    predictions, drafts and two finished reviews, two pipeline models' analyses, and one image
    with every annotation type. Running it again adds nothing.
    """
    settings = Settings()
    upgrade_database(settings)
    load_demo_data(settings, group=group)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations to the configured database (DATABASE_URL or the SQLite default)."""
    settings = Settings()
    upgrade_database(settings)
    console.print(f"database is up to date: {settings.resolved_database_url.split('@')[-1]}")


@users_app.command("create")
def users_create(
    email: str,
    admin: Annotated[bool, typer.Option(help="Give the user access to every project.")] = False,
    group: Annotated[list[str] | None, typer.Option(help="Add to this group (repeatable).")] = None,
) -> None:
    """Create a user (or update the admin flag of an existing one)."""
    from lookout.accounts import service as accounts

    with cli_session() as session:
        user = accounts.get_or_create_user(session, email=email, is_admin=admin)
        for name in group or []:
            accounts.add_member(
                session, user=user, group=accounts.get_or_create_group(session, name=name)
            )
        console.print(f"user {user.email} (admin: {user.is_admin})")


@users_app.command("list")
def users_list() -> None:
    """List users with their groups."""
    from rich.table import Table
    from sqlalchemy import select

    from lookout.accounts.models import User

    table = Table("email", "admin", "groups")
    with cli_session() as session:
        for user in session.scalars(select(User).order_by(User.email)):
            names = sorted(m.group.name for m in user.memberships)
            table.add_row(user.email, "yes" if user.is_admin else "", ", ".join(names))
    console.print(table)


@groups_app.command("create")
def groups_create(name: str, description: Annotated[str | None, typer.Option()] = None) -> None:
    """Create a group."""
    from lookout.accounts import service as accounts

    with cli_session() as session:
        group = accounts.get_or_create_group(session, name=name, description=description)
        console.print(f"group {group.name} ({group.id})")


@groups_app.command("list")
def groups_list() -> None:
    """List groups with their members."""
    from rich.table import Table
    from sqlalchemy import select

    from lookout.accounts.models import Group

    table = Table("name", "id", "members")
    with cli_session() as session:
        for group in session.scalars(select(Group).order_by(Group.name)):
            members = sorted(m.user.email for m in group.memberships)
            table.add_row(group.name, str(group.id), ", ".join(members))
    console.print(table)


@groups_app.command("add-member")
def groups_add_member(
    group: str, email: str, role: Annotated[str, typer.Option(help="member or admin")] = "member"
) -> None:
    """Add a user to a group (the user is created if new)."""
    from lookout.accounts import service as accounts

    with cli_session() as session:
        target = accounts.get_group(session, name_or_id=group)
        user = accounts.get_or_create_user(session, email=email)
        accounts.add_member(session, user=user, group=target, role=role)
        console.print(f"{user.email} is a {role} of {target.name}")


@groups_app.command("remove-member")
def groups_remove_member(group: str, email: str) -> None:
    """Remove a user from a group."""
    from lookout.accounts import service as accounts

    with cli_session() as session:
        target = accounts.get_group(session, name_or_id=group)
        accounts.remove_member(session, user=accounts.get_user(session, email=email), group=target)
        console.print(f"{email} removed from {target.name}")


@keys_app.command("create")
def apikeys_create(
    email: Annotated[str, typer.Argument(help="Owner of the key (created if new).")],
    name: Annotated[str, typer.Option(help="What the key is for.")] = "default",
    expires_in_days: Annotated[int | None, typer.Option(min=1, help="Expire after N days.")] = None,
    group: Annotated[str | None, typer.Option(help="Also add the owner to this group.")] = None,
) -> None:
    """Issue an API key. It is printed once: only a hash is stored."""
    from lookout.accounts import service as accounts

    expires = datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days else None
    with cli_session() as session:
        user = accounts.get_or_create_user(session, email=email)
        if group:
            accounts.add_member(
                session, user=user, group=accounts.get_or_create_group(session, name=group)
            )
        issued = accounts.create_api_key(session, user=user, name=name, expires_at=expires)
        token = issued.token
    err_console.print(f"API key for {email} (send it as X-API-Key or Authorization: Bearer):")
    print(token)


@keys_app.command("list")
def apikeys_list(email: Annotated[str | None, typer.Argument()] = None) -> None:
    """List API keys (prefixes only) with their state."""
    from rich.table import Table

    from lookout.accounts import service as accounts

    table = Table("prefix", "owner", "name", "created", "expires", "last used", "state")
    with cli_session() as session:
        user = accounts.get_user(session, email=email) if email else None
        for key in accounts.list_api_keys(session, user=user):
            state = "revoked" if key.revoked_at else "active"
            table.add_row(
                key.prefix,
                key.user.email,
                key.name,
                _day(key.created_at),
                _day(key.expires_at),
                _day(key.last_used_at),
                state,
            )
    console.print(table)


@keys_app.command("revoke")
def apikeys_revoke(prefix: Annotated[str, typer.Argument(help="The key's prefix or id.")]) -> None:
    """Revoke an API key at once."""
    from lookout.accounts import service as accounts

    with cli_session() as session:
        key = accounts.revoke_api_key(session, prefix_or_id=prefix)
        console.print(f"revoked key {key.prefix} of {key.user.email}")


@app.command("queue")
def queue_command(
    project_id: Annotated[uuid.UUID, typer.Argument(help="Project whose images to analyze.")],
    model_name: Annotated[str, typer.Option(help="Model the worker serves.")] = "yolo_v8",
    model_version: Annotated[str, typer.Option(help="Model version.")] = "",
    sequence_id: Annotated[uuid.UUID | None, typer.Option(help="Only this sequence.")] = None,
    captured_after: Annotated[datetime | None, typer.Option(help="From (UTC, inclusive).")] = None,
    captured_before: Annotated[datetime | None, typer.Option(help="To (UTC, exclusive).")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Queue at most N analyses.")] = None,
    parameters: Annotated[str | None, typer.Option(help="Parameters, a JSON object.")] = None,
    retry_failed: Annotated[bool, typer.Option(help="Re-queue images whose runs failed.")] = False,
    as_user: Annotated[str | None, typer.Option("--as", help="Act as this user.")] = None,
) -> None:
    """Queue one analysis per image of a project (idempotent) for `lookout worker` to run."""
    import json

    from lookout.accounts import service as accounts
    from lookout.analyses import queue
    from lookout.auth.principal import Principal

    try:
        params = json.loads(parameters) if parameters else {}
    except ValueError:
        params = None
    if not isinstance(params, dict):
        err_console.print("[red]error:[/red] --parameters must be a JSON object")
        raise typer.Exit(2)
    settings = Settings()
    with cli_session() as session:
        if as_user:
            user = accounts.get_user(session, email=as_user)
            principal, created_by = accounts.principal_for(session, user, via="cli"), user.id
        else:  # the operator on the server machine: an administrator, recorded as nobody
            principal = Principal(user_id=uuid.UUID(int=0), email="cli", is_admin=True, via="cli")
            created_by = None
        result = queue.queue_model(
            session,
            principal=principal,
            project_id=project_id,
            job=queue.QueueJob(
                model_name=model_name,
                model_version=model_version,
                parameters=params,
                retry_failed=retry_failed,
                created_by_id=created_by,
            ),
            limits=settings.queue_limits,
            limit=limit,
            selection=queue.QueueSelection(sequence_id, captured_after, captured_before),
        )
    console.print(
        f"queued {result.queued} analyses of {model_name} {model_version}".rstrip()
        + f"; {result.already_present} images already had one"
        + (f"; {result.over_limit} images are at their analysis limit" if result.over_limit else "")
    )


@app.command("fake-platform")
def fake_platform(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8787,
    latency: Annotated[float, typer.Option(help="Seconds added to every answer.")] = 0.0,
    error_rate: Annotated[float, typer.Option(help="Fraction of 500/502/503 answers.")] = 0.0,
    schema: Annotated[str, typer.Option(help="Answer shape: 2025 or later.")] = "2025",
) -> None:
    """Serve a fake Pyronear alert platform (users org1-user/org1-pass, admin/admin-pass)."""
    from lookout.fake_platform.server import main as serve_fake

    serve_fake(host=host, port=port, latency_s=latency, error_rate=error_rate, schema=schema)


def _day(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def main() -> None:
    app(prog_name="lookout")


if __name__ == "__main__":
    main()
