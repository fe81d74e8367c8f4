"""The ``import-platform`` command (also run as ``python -m scripts...platform.import``)."""

from __future__ import annotations

import logging
import re
import sys
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler

from lookout.httpretry import RetryPolicy
from lookout.platform_import.importer import ImportAborted, Importer
from lookout.platform_import.progress import Bars
from lookout.platform_import.report import ImportStats, report_lines
from lookout.platform_import.settings import (
    VIA_IMPORTER,
    VIA_SERVER,
    ConfigError,
    ImporterSettings,
    ImportOptions,
)

log = logging.getLogger("lookout.platform_import")

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Failures listed again at the end of the log (the rest are above, as they happened).
FAILURES_SHOWN = 20


class Order(StrEnum):
    """Detections order."""

    asc = "asc"
    desc = "desc"


class LogLevel(StrEnum):
    """Log levels."""

    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


class Transfer(StrEnum):
    """How frames reach Lookout."""

    via_server = VIA_SERVER
    via_importer = VIA_IMPORTER


HELP = "\n\n".join(
    " ".join(paragraph.split())
    for paragraph in (
        """Import sequences and detections from the Pyronear alert platform into Lookout, then
        draft an annotation for each sequence (stage ready_to_annotate) for a person to
        review.""",
        """Credentials come from the environment or a .env file: PLATFORM_LOGIN and
        PLATFORM_PASSWORD (an organization login: the platform only lists the sequences of the
        login's organization), PLATFORM_ADMIN_LOGIN and PLATFORM_ADMIN_PASSWORD (a platform
        admin: organizations and cameras).""",
        """Several organizations in one run: put their logins in PLATFORM_EXTRA_CREDENTIALS as
        "login2:password2,login3:password3"; every login's sequences are imported, each
        organization into a Lookout project (and group) of its name.""",
        """Lookout access: --api-key or LOOKOUT_API_KEY (sent as X-API-Key); without one,
        Lookout must run in local mode (loopback, no auth configured).""",
        """Re-runs are safe: what is already stored is reported as already present and nothing
        is duplicated; a draft a person started reviewing is never overwritten.""",
        """Exit status: 0 when nothing failed, 1 when something failed, 2 for usage or
        configuration errors.""",
    )
)


def setup_logging(level: str, console: Console, logger: logging.Logger = log) -> None:
    """Log this package (or ``logger``) at the chosen level to stderr (rich on a terminal)."""
    handler: logging.Handler
    if console.is_terminal:
        handler = RichHandler(console=console, show_path=False, markup=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.handlers.clear()
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False


def parse_day(value: str | None, flag: str) -> date:
    """A YYYY-MM-DD date (today, UTC, when not given)."""
    if value is None:
        return datetime.now(UTC).date()
    try:
        if not DATE.fullmatch(value):
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"Invalid date for {flag}: {value!r} (expected YYYY-MM-DD)") from None


def parse_dates(date_from: str, date_end: str | None) -> tuple[date, date]:
    """--date-from and --date-end, the first not after the second."""
    start, end = parse_day(date_from, "--date-from"), parse_day(date_end, "--date-end")
    if start > end:
        raise ConfigError(
            "Invalid combination of --date-from and --date-end parameters: "
            f"--date-from {start} is after --date-end {end}"
        )
    return start, end


def retry_policy(
    retries: int, timeout: float, backoff_base: float, backoff_max: float
) -> RetryPolicy:
    """The policy of every HTTP call; --backoff-max caps every pause, a Retry-After included."""
    return RetryPolicy(
        attempts=retries,
        timeout_s=timeout,
        backoff_base_s=backoff_base,
        max_wait_s=max(backoff_max, backoff_base),
    )


def usage_error(message: str) -> typer.Exit:
    """Print a usage or configuration error; exit code 2."""
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(2)


# The command's options (their flags, help and bounds).

DateFromFlag = Annotated[
    str, typer.Option("--date-from", help="Start date (YYYY-MM-DD), required.")
]
DateEndFlag = Annotated[
    str | None,
    typer.Option("--date-end", help="End date (YYYY-MM-DD), included.", show_default="today, UTC"),
]
UrlApiPlatformFlag = Annotated[
    str, typer.Option("--url-api-platform", help="Platform API base URL.")
]
UrlApiAnnotationFlag = Annotated[
    str, typer.Option("--url-api-annotation", help="Annotation API (Lookout) base URL.")
]
DetectionsLimitFlag = Annotated[
    int,
    typer.Option(
        "--detections-limit",
        min=1,
        help="Max detections per sequence (above 100, fetched in pages).",
    ),
]
DetectionsOrderByFlag = Annotated[
    Order, typer.Option("--detections-order-by", help="Order detections by created_at.")
]
ConfidenceThresholdFlag = Annotated[
    float,
    typer.Option(
        "--confidence-threshold",
        min=0.0,
        max=1.0,
        help="Min AI prediction confidence (0.0-1.0).",
    ),
]
IouThresholdFlag = Annotated[
    float,
    typer.Option(
        "--iou-threshold", min=0.0, max=1.0, help="Min IoU for clustering overlapping boxes."
    ),
]
MinClusterSizeFlag = Annotated[
    int, typer.Option("--min-cluster-size", min=1, help="Min boxes required in a cluster.")
]
DryRunFlag = Annotated[
    bool, typer.Option("--dry-run", help="Preview actions without execution (writes nothing).")
]
SkipPlatformFetchFlag = Annotated[
    bool,
    typer.Option(
        "--skip-platform-fetch",
        help="Skip platform data fetching: draft the sequences already stored.",
    ),
]
LoglevelFlag = Annotated[
    LogLevel, typer.Option("--loglevel", case_sensitive=False, help="Logging level.")
]
ApiKeyFlag = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        envvar="LOOKOUT_API_KEY",
        show_default=False,
        help="Lookout API key (sent as X-API-Key); none means Lookout's local mode.",
    ),
]
ConcurrencyFlag = Annotated[
    int,
    typer.Option(
        "--concurrency",
        min=1,
        help="Calls to the platform at once: a sequence's detections, or its frames being "
        "fetched (by Lookout, one at a time, or by the importer). Twice as many sequences are "
        "worked on, so some are stored and drafted in Lookout while others use the platform. "
        "Via the importer, also the uploads at once.",
    ),
]
TransferFlag = Annotated[
    Transfer,
    typer.Option(
        "--transfer",
        help="via-server: Lookout fetches each frame from its URL; via-importer: "
        "this command downloads and uploads it (when Lookout cannot reach "
        "the platform's storage). via-server sends a sequence's frames in batches of "
        "10 and falls back per frame on a 502.",
    ),
]
TimeoutFlag = Annotated[
    float,
    typer.Option(
        "--timeout",
        min=0.1,
        help="Seconds before a platform call times out (calls to Lookout get at least 60 s: "
        "they include Lookout's own download of the frame).",
    ),
]
RetriesFlag = Annotated[
    int, typer.Option("--retries", min=1, help="Attempts per HTTP call (429, 5xx, errors).")
]
BackoffBaseFlag = Annotated[
    float, typer.Option("--backoff-base", min=0.0, help="First retry pause in seconds.")
]
BackoffMaxFlag = Annotated[
    float, typer.Option("--backoff-max", min=0.0, help="Longest retry pause in seconds.")
]
PageSizeFlag = Annotated[
    int, typer.Option("--page-size", min=1, help="Sequences asked per platform page.")
]


def import_platform(
    date_from: DateFromFlag,
    date_end: DateEndFlag = None,
    url_api_platform: UrlApiPlatformFlag = "https://alertapi.pyronear.org",
    url_api_annotation: UrlApiAnnotationFlag = "http://localhost:5050",
    detections_limit: DetectionsLimitFlag = 30,
    detections_order_by: DetectionsOrderByFlag = Order.asc,
    confidence_threshold: ConfidenceThresholdFlag = 0.0,
    iou_threshold: IouThresholdFlag = 0.3,
    min_cluster_size: MinClusterSizeFlag = 1,
    dry_run: DryRunFlag = False,
    skip_platform_fetch: SkipPlatformFetchFlag = False,
    loglevel: LoglevelFlag = LogLevel.info,
    api_key: ApiKeyFlag = None,
    concurrency: ConcurrencyFlag = 8,
    transfer: TransferFlag = Transfer.via_server,
    timeout: TimeoutFlag = 30.0,
    retries: RetriesFlag = 5,
    backoff_base: BackoffBaseFlag = 0.5,
    backoff_max: BackoffMaxFlag = 30.0,
    page_size: PageSizeFlag = 50,
) -> None:
    """Import sequences from the Pyronear alert platform and draft their annotations."""
    console = Console(stderr=True)
    setup_logging(loglevel.value, console)
    try:
        start, end = parse_dates(date_from, date_end)
        settings = ImporterSettings()
        options = ImportOptions(
            date_from=start,
            date_end=end,
            url_api_platform=url_api_platform,
            url_api_annotation=url_api_annotation,
            credentials=[] if skip_platform_fetch else settings.credentials(),
            admin=None if skip_platform_fetch else settings.admin(),
            api_key=api_key or _secret(settings),
            detections_limit=detections_limit,
            detections_desc=detections_order_by is Order.desc,
            confidence_threshold=confidence_threshold,
            iou_threshold=iou_threshold,
            min_cluster_size=min_cluster_size,
            dry_run=dry_run,
            skip_platform_fetch=skip_platform_fetch,
            concurrency=concurrency,
            transfer=transfer.value,
            page_size=page_size,
            policy=retry_policy(retries, timeout, backoff_base, backoff_max),
        )
    except ConfigError as exc:
        raise usage_error(str(exc)) from None
    raise typer.Exit(run(options, console))


def _secret(settings: ImporterSettings) -> str | None:
    """LOOKOUT_API_KEY from a .env file (the environment is read by the option itself)."""
    key = settings.lookout_api_key
    return key.get_secret_value() if key else None


def run(options: ImportOptions, console: Console) -> int:
    """Run the import and print its report; returns the exit code."""
    importer = Importer(options, Bars(console))
    try:
        with importer.bars:
            stats = importer.run()
    except ImportAborted as exc:
        log.error("%s", exc)
        typer.echo(f"Processing failed: {exc}", err=True)
        return 1
    except KeyboardInterrupt:
        typer.echo("Interrupted.", err=True)
        return 130
    report(importer, stats)
    return 0 if stats.ok else 1


def report(importer: Importer, stats: ImportStats) -> None:
    """Print the statistics (or the dry-run plan) and recall the failures."""
    print_report(report_lines(importer.plan, stats), stats.failures)


def print_report(lines: list[str], failures: list[str], logger: logging.Logger = log) -> None:
    """Print a run's report on stdout and list its failures again (the first ones) in the log."""
    typer.echo("\n".join(lines))
    if failures:
        logger.error("%d problem(s):", len(failures))
        for failure in failures[:FAILURES_SHOWN]:
            logger.error("  %s", failure)
        if len(failures) > FAILURES_SHOWN:
            logger.error("  ... and %d more", len(failures) - FAILURES_SHOWN)


# Both registrations (here and ``lookout import-platform``) show the long help.
import_platform.__doc__ = HELP
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
app.command()(import_platform)


def main(prog_name: str | None = None) -> None:
    """Entry point for ``python -m``."""
    app(prog_name=prog_name)


if __name__ == "__main__":
    main()
