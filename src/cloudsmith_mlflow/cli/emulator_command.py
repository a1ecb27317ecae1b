"""``cloudsmith-mlflow emulator``: run the local Cloudsmith API emulator in the foreground."""

from __future__ import annotations

import logging
import re
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import click

from cloudsmith_mlflow.emulator.config import DUPLICATE_POLICIES, EmulatorConfig, FaultSettings
from cloudsmith_mlflow.emulator.server import EmulatorHandle
from cloudsmith_mlflow.emulator.storage import DataDirInUseError

__all__ = ["emulator_command"]

_RATE = click.FloatRange(0.0, 1.0)


class _Regex(click.ParamType[str]):
    """A regular expression, checked when the command line is read.

    FaultSettings checks it too, but its ValueError could not say which option
    was wrong; here click's usage error names ``--fault-filter``.
    """

    name = "regex"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        """The pattern unchanged, or a usage error naming the option and the problem."""
        try:
            re.compile(value)
        except re.error as exc:
            self.fail(f"{value!r} is not a valid regular expression: {exc}", param, ctx)
        return str(value)


@click.command("emulator")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8765,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="API port (also serves downloads and part uploads); 0 picks a free port.",
)
@click.option(
    "--storage-port",
    default=0,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port of the presigned-storage stand-in; 0 picks a free port.",
)
@click.option(
    "--data-dir",
    default=".cloudsmith-emulator",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where packages and metadata persist across restarts.",
)
@click.option(
    "--api-key",
    envvar="CLOUDSMITH_API_KEY",
    required=True,
    help="The API key clients must present (default: $CLOUDSMITH_API_KEY).",
)
@click.option(
    "--repo",
    "repos",
    multiple=True,
    metavar="OWNER/REPO",
    help="A repository to serve (repeatable; repositories persist in the data directory).",
)
@click.option(
    "--public",
    "public_repos",
    multiple=True,
    metavar="OWNER/REPO",
    help="A repository whose downloads and reads need no credentials (repeatable).",
)
@click.option(
    "--read-only-key",
    "read_only_keys",
    multiple=True,
    envvar="CLOUDSMITH_EMULATOR_READ_ONLY_KEYS",
    help="A key that can read but not write or delete (repeatable).",
)
@click.option(
    "--sync-delay",
    default=0.0,
    type=click.FloatRange(0),
    show_default=True,
    help="Seconds a new package spends synchronising before it can be downloaded.",
)
@click.option(
    "--sync-fail-rate",
    default=0.0,
    type=_RATE,
    show_default=True,
    help="Share of package syncs that fail.",
)
@click.option(
    "--duplicates",
    default="reject",
    type=click.Choice(DUPLICATE_POLICIES),
    show_default=True,
    help="Same name+version without republish: 400 at create, or a failed sync.",
)
@click.option(
    "--fail-rate",
    default=0.0,
    type=_RATE,
    show_default=True,
    help="Share of requests answered with a 5xx, without effect: 500/502/503/504 on the API "
    "port; 500 InternalError or 503 ServiceUnavailable on the storage listener.",
)
@click.option(
    "--throttle-rate",
    default=0.0,
    type=_RATE,
    show_default=True,
    help="Share of requests throttled, without effect: 429 on the API port, 503 SlowDown "
    "(as S3 throttles) on the storage listener, both with Retry-After.",
)
@click.option(
    "--throttle-retry-after",
    default=1,
    type=click.IntRange(0),
    show_default=True,
    help="Retry-After seconds of injected throttles (429 or 503 SlowDown).",
)
@click.option(
    "--reset-rate",
    default=0.0,
    type=_RATE,
    show_default=True,
    help="Share of requests whose connection is reset.",
)
@click.option(
    "--reset-after-share",
    default=0.5,
    type=_RATE,
    show_default=True,
    help="Share of resets that happen after the request took effect.",
)
@click.option(
    "--latency-ms",
    default=0.0,
    type=click.FloatRange(0),
    show_default=True,
    help="Delay added before each request on both listeners is handled (not the "
    "/_emulator/ control endpoints).",
)
@click.option(
    "--rate-limit",
    default=None,
    type=click.IntRange(1),
    help="Requests per hour per key, enforced with 429 (default: 5400 reported, not enforced).",
)
@click.option(
    "--rate-interval",
    default=0.0,
    type=click.FloatRange(0),
    show_default=True,
    help="X-RateLimit-Interval to report (the official CLI sleeps that long per call).",
)
@click.option(
    "--redirect-downloads",
    is_flag=True,
    help="Answer downloads with a 302 to a presigned URL on the storage listener.",
)
@click.option(
    "--fault-filter",
    default=None,
    type=_Regex(),
    metavar="REGEX",
    help='Inject per-request faults only where "METHOD /path" matches.',
)
@click.option("--seed", default=None, type=int, help="Seed for the fault dice (repeatable runs).")
@click.option(
    "--upload-ttl",
    default=3600.0,
    type=click.FloatRange(1),
    show_default=True,
    help="Seconds the presigned POST policy and presigned PUT URL of an upload slot stay "
    "valid; upload identifiers, part uploads and complete/ do not expire.",
)
@click.option("--verbose", "-v", is_flag=True, help="Log every request to stderr.")
def emulator_command(
    host: str,
    port: int,
    storage_port: int,
    data_dir: Path,
    api_key: str,
    repos: tuple[str, ...],
    public_repos: tuple[str, ...],
    read_only_keys: tuple[str, ...],
    sync_delay: float,
    sync_fail_rate: float,
    duplicates: str,
    fail_rate: float,
    throttle_rate: float,
    throttle_retry_after: int,
    reset_rate: float,
    reset_after_share: float,
    latency_ms: float,
    rate_limit: int | None,
    rate_interval: float,
    redirect_downloads: bool,
    fault_filter: str | None,
    seed: int | None,
    upload_ttl: float,
    verbose: bool,
) -> None:
    """Run a local Cloudsmith API emulator until SIGINT or SIGTERM.

    Point the official CLI at it with CLOUDSMITH_API_HOST=http://HOST:PORT and
    the same CLOUDSMITH_API_KEY.  Prints one line when ready:
    "Cloudsmith emulator listening on http://HOST:PORT".

    \b
    Examples:
      cloudsmith-mlflow emulator --port 8765 --api-key dev --repo demo/ml-artifacts
      cloudsmith-mlflow emulator --port 0 --data-dir /tmp/cs --api-key dev --repo demo/ml \\
          --read-only-key viewer --sync-delay 2
      cloudsmith-mlflow emulator --api-key dev --repo demo/ml --throttle-rate 0.1 --seed 7
      CLOUDSMITH_API_HOST=http://127.0.0.1:8765 CLOUDSMITH_API_KEY=dev \\
          cloudsmith-mlflow doctor cloudsmith://demo/ml-artifacts

    \b
    Exit codes: 0 stopped by SIGINT or SIGTERM, 1 cannot listen or the data
    directory is in use, 2 usage.
    """
    _configure_logging(verbose)
    try:
        faults = FaultSettings(
            sync_delay=sync_delay,
            sync_fail_rate=sync_fail_rate,
            duplicates=duplicates,
            fail_rate=fail_rate,
            throttle_rate=throttle_rate,
            throttle_retry_after=throttle_retry_after,
            reset_rate=reset_rate,
            reset_after_share=reset_after_share,
            latency_ms=latency_ms,
            rate_limit=rate_limit,
            rate_interval=rate_interval,
            redirect_downloads=redirect_downloads,
            fault_filter=fault_filter,
        )
        config = EmulatorConfig(
            api_key=api_key,
            data_dir=data_dir,
            repos=repos,
            public_repos=public_repos,
            read_only_keys=tuple(key for key in read_only_keys if key),
            host=host,
            port=port,
            storage_port=storage_port,
            seed=seed,
            upload_ttl=upload_ttl,
            verbose=verbose,
            faults=faults,
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    handle = EmulatorHandle(config)
    try:
        handle.start()
    except DataDirInUseError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from None
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if not config.repositories() and not handle.state.store.repositories():
            click.echo(
                "warning: no repository configured; add one with --repo OWNER/REPO", err=True
            )
        click.echo(f"Cloudsmith emulator listening on {handle.url}")
        sys.stdout.flush()
        while not stop.wait(0.5):
            pass
    finally:
        handle.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _configure_logging(verbose: bool) -> None:
    """The command is an application: it may give its own logger a stderr handler."""
    emulator_logger = logging.getLogger("cloudsmith_mlflow.emulator")
    if not emulator_logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        emulator_logger.addHandler(handler)
    emulator_logger.setLevel(logging.INFO if verbose else logging.WARNING)
