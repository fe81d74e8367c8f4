"""The `import-annotations` command: `lookout import-annotations pyro-annotator --url ...`."""

from __future__ import annotations

import logging
from dataclasses import replace
from enum import StrEnum
from typing import Annotated

import httpx
import typer
from rich.console import Console

from lookout.annotator_import.importer import AnnotatorImporter
from lookout.annotator_import.report import AnnotatorImportAborted, AnnotatorImportOptions
from lookout.cli_support import command_context, resolve_project
from lookout.platform_import.cli import (
    LogLevel,
    LoglevelFlag,
    RetriesFlag,
    parse_day,
    print_report,
    retry_policy,
    setup_logging,
    usage_error,
)
from lookout.platform_import.progress import Bars
from lookout.platform_import.settings import ConfigError

log = logging.getLogger("lookout.annotator_import")


class Source(StrEnum):
    """Tools whose annotations can be imported."""

    pyro_annotator = "pyro-annotator"


HELP = "\n\n".join(
    " ".join(paragraph.split())
    for paragraph in (
        """Import another annotation tool's work into Lookout. SOURCE names the tool; the
        only one is pyro-annotator (Pyronear's annotation tool): its sequences, their frames
        and its people's annotations are read from its API at --url.""",
        """Sequences are matched to the ones the platform import stored (pyro-annotator's
        alert_api_id is the platform's sequence id) and created when absent, in a project
        named after the organisation (or --project), frames with their images and the
        platform's boxes. Sequence annotations become reviews with decided tracks (smoke with
        its smoke type, false positive with its types, one box per frame), attributed to the
        pyro-annotator user who saved them and when; the stages map: imported and
        ready_to_annotate -> ready_to_annotate (undecided draft), under_annotation ->
        in_review, seq_annotation_done and annotated -> annotated, in_review and needs_manual
        -> needs_check. Finished detection annotations become an analysis 'pyro-annotator' of
        their frame.""",
        """Credentials as pyro-annotator takes them: --username and --password (or
        PYRO_ANNOTATOR_USERNAME and PYRO_ANNOTATOR_PASSWORD), exchanged at
        /api/v1/auth/login for a token; or a token of theirs with --token
        (PYRO_ANNOTATOR_TOKEN). Without any, the server is read anonymously (its 2025 API
        has no accounts).""",
        """Re-runs are safe: what is already imported is found and nothing is written twice;
        a review a person made or changed in Lookout is never replaced (reported as kept). An
        annotation changed in pyro-annotator since updates a review nobody touched in
        Lookout.""",
        """Exit status: 0 when nothing failed, 1 when something failed or the run stopped
        (credentials refused, server unreachable), 2 for usage or configuration errors.""",
    )
)

SourceArg = Annotated[
    Source,
    typer.Argument(help="The tool to import from; the only choice is pyro-annotator."),
]
UrlFlag = Annotated[
    str,
    typer.Option(
        "--url",
        envvar="PYRO_ANNOTATOR_URL",
        help="Base URL of the pyro-annotator server (its API is under /api/v1).",
    ),
]
UsernameFlag = Annotated[
    str | None,
    typer.Option("--username", envvar="PYRO_ANNOTATOR_USERNAME", help="pyro-annotator login name."),
]
PasswordFlag = Annotated[
    str | None,
    typer.Option(
        "--password",
        envvar="PYRO_ANNOTATOR_PASSWORD",
        show_default=False,
        help="pyro-annotator password (prefer the environment variable).",
    ),
]
TokenFlag = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="PYRO_ANNOTATOR_TOKEN",
        show_default=False,
        help="A pyro-annotator access token, instead of a username and password.",
    ),
]
ProjectFlag = Annotated[
    str | None,
    typer.Option(
        "--project",
        help="Lookout project (id or name) for every sequence; default: the project (and "
        "group) named after each sequence's organisation, as the platform import makes.",
    ),
]
EmailDomainFlag = Annotated[
    str,
    typer.Option(
        "--email-domain",
        help="Annotators become Lookout users <username>@<domain> (a username that is an "
        "email address is kept as it is).",
    ),
]
DateFromFlag = Annotated[
    str | None,
    typer.Option("--date-from", help="Only sequences recorded from this day (YYYY-MM-DD, UTC)."),
]
DateEndFlag = Annotated[
    str | None,
    typer.Option("--date-end", help="Only sequences recorded up to this day, included."),
]
DryRunFlag = Annotated[
    bool,
    typer.Option("--dry-run", help="Read pyro-annotator and Lookout, write nothing, report."),
]
DetectionAnnotationsFlag = Annotated[
    bool,
    typer.Option(
        "--detection-annotations/--no-detection-annotations",
        help="Also import finished detection annotations (the boxes drawn on each frame).",
    ),
]
UserFlag = Annotated[
    str | None,
    typer.Option("--user", help="Act as this Lookout user (default: the local admin)."),
]
ConcurrencyFlag = Annotated[
    int,
    typer.Option(
        "--concurrency",
        min=1,
        max=64,
        help="Images downloaded at once (frames are stored in order, one at a time).",
    ),
]
TimeoutFlag = Annotated[
    float, typer.Option("--timeout", min=0.1, help="Seconds before a call times out.")
]
BackoffBaseFlag = Annotated[
    float, typer.Option("--backoff-base", min=0.0, help="First retry pause in seconds.")
]
BackoffMaxFlag = Annotated[
    float, typer.Option("--backoff-max", min=0.0, help="Longest retry pause in seconds.")
]


def check_url(url: str) -> str:
    """An http(s) URL with a host, without a trailing slash."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError):
        parsed = None
    if parsed is None or parsed.scheme not in {"http", "https"} or not parsed.host:
        raise ConfigError(f"Invalid --url {url!r}: expected http(s)://host[:port]")
    return url.rstrip("/")


def check_credentials(username: str | None, password: str | None, token: str | None) -> None:
    """A username with its password, a token, or nothing (a server without accounts)."""
    if (token and not username) or not (username or password):
        return
    missing = [
        name
        for name, value in (
            ("PYRO_ANNOTATOR_USERNAME (--username)", username),
            ("PYRO_ANNOTATOR_PASSWORD (--password)", password),
        )
        if not value
    ]
    if missing:
        raise ConfigError(
            f"Missing pyro-annotator credentials: set {', '.join(missing)}, or give --token"
        )


def import_annotations(
    source: SourceArg,
    url: UrlFlag,
    username: UsernameFlag = None,
    password: PasswordFlag = None,
    token: TokenFlag = None,
    project: ProjectFlag = None,
    email_domain: EmailDomainFlag = "pyro-annotator.invalid",
    date_from: DateFromFlag = None,
    date_end: DateEndFlag = None,
    dry_run: DryRunFlag = False,
    detection_annotations: DetectionAnnotationsFlag = True,
    user: UserFlag = None,
    concurrency: ConcurrencyFlag = 4,
    loglevel: LoglevelFlag = LogLevel.info,
    timeout: TimeoutFlag = 30.0,
    retries: RetriesFlag = 5,
    backoff_base: BackoffBaseFlag = 0.5,
    backoff_max: BackoffMaxFlag = 30.0,
) -> None:
    """Import another annotation tool's sequences and annotations."""
    console = Console(stderr=True)
    setup_logging(loglevel.value, console, log)
    try:
        base_url = check_url(url)
        check_credentials(username, password, token)
        start = parse_day(date_from, "--date-from") if date_from else None
        end = parse_day(date_end, "--date-end") if date_end else None
        if start and end and start > end:
            raise ConfigError(
                f"Invalid combination of --date-from and --date-end parameters: "
                f"--date-from {start} is after --date-end {end}"
            )
        if "@" in email_domain or "." not in email_domain:
            raise ConfigError(f"Invalid --email-domain {email_domain!r}: expected e.g. example.org")
    except ConfigError as exc:
        raise usage_error(str(exc)) from None
    options = AnnotatorImportOptions(
        url=base_url,
        username=username,
        password=password,
        token=token,
        policy=retry_policy(retries, timeout, backoff_base, backoff_max),
        email_domain=email_domain.lower(),
        date_from=start,
        date_end=end,
        dry_run=dry_run,
        detection_annotations=detection_annotations,
        concurrency=concurrency,
    )
    raise typer.Exit(run(options, console, project=project, user=user))


def run(
    options: AnnotatorImportOptions, console: Console, *, project: str | None, user: str | None
) -> int:
    """Run the import against the configured database; returns the exit code."""
    with command_context(user) as ctx:
        options = replace(
            options,
            project_id=resolve_project(ctx.session, ctx.principal, project) if project else None,
            max_image_bytes=ctx.settings.max_upload_bytes,
            max_pixels=ctx.settings.max_image_pixels,
        )
        importer = AnnotatorImporter(
            options,
            session=ctx.session,
            storage=ctx.storage,
            principal=ctx.principal,
            bars=Bars(console),
        )
        try:
            with importer.bars:
                stats = importer.run()
        except AnnotatorImportAborted as exc:
            log.error("%s", exc)
            typer.echo(f"Processing failed: {exc}", err=True)
            return 1
        except KeyboardInterrupt:
            typer.echo("Interrupted.", err=True)
            return 130
    print_report(stats.lines(), stats.failures, log)
    return 0 if stats.ok else 1


import_annotations.__doc__ = HELP
