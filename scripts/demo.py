"""The main job end to end: ``make demo`` (one shot) and ``make serve`` (keep running).

Starts the Cloudsmith emulator (data under ``.demo/``, so a second run sees the
first run's artifacts) and an ``mlflow server`` proxying artifacts to
``cloudsmith://demo/ml-artifacts``, runs ``examples/train.py`` against it, then
prints the run, its artifact tree as MLflow lists it and the Cloudsmith packages
behind it. With CLOUDSMITH_API_KEY, CLOUDSMITH_OWNER and CLOUDSMITH_REPO set it
does the same against real Cloudsmith instead of the emulator.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.tree import Tree
from scripts.services import emulator, mlflow_server

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STATE = ROOT / ".demo"
DEMO_KEY = "demo-api-key"
DEMO_REPO = "demo/ml-artifacts"
# Wide enough for the packages table when the output is a pipe or a CI log.
console = Console(width=None if sys.stdout.isatty() else 150)


@contextlib.contextmanager
def cloudsmith(port: int, state: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """Yields the destination URI and the environment that reaches it."""
    live = {
        name: os.environ.get(name, "")
        for name in ("CLOUDSMITH_API_KEY", "CLOUDSMITH_OWNER", "CLOUDSMITH_REPO")
    }
    if all(live.values()):
        console.print(
            f"[bold]Using real Cloudsmith[/]: {live['CLOUDSMITH_OWNER']}/{live['CLOUDSMITH_REPO']}"
        )
        env = {"CLOUDSMITH_API_KEY": live["CLOUDSMITH_API_KEY"]}
        if os.environ.get("CLOUDSMITH_API_HOST"):
            env["CLOUDSMITH_API_HOST"] = os.environ["CLOUDSMITH_API_HOST"]
        yield f"cloudsmith://{live['CLOUDSMITH_OWNER']}/{live['CLOUDSMITH_REPO']}", env
        return
    data = state / "emulator"
    data.mkdir(parents=True, exist_ok=True)
    with emulator(
        data,
        api_key=DEMO_KEY,
        repos=[DEMO_REPO],
        port=port,
        options=["--sync-delay", "1"],
        log=state / "emulator.log",
    ) as url:
        console.print(f"[bold]Cloudsmith emulator[/] at {url} (data in {_shown(data)})")
        yield (
            f"cloudsmith://{DEMO_REPO}",
            {"CLOUDSMITH_API_KEY": DEMO_KEY, "CLOUDSMITH_API_HOST": url},
        )


def human(size: int | None) -> str:
    """Bytes for people."""
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(size)


def _shown(path: Path) -> str:
    """``path`` relative to the project when it lies inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def show(tracking_uri: str, destination: str, env: dict[str, str], state: Path) -> None:
    """Print the newest demo run, its artifact tree and the packages behind it."""
    os.environ.update(env)
    import mlflow
    from mlflow import MlflowClient

    from cloudsmith_mlflow.bootstrap import build_service
    from cloudsmith_mlflow.domain.packages import PackageQuery
    from cloudsmith_mlflow.settings import Settings

    mlflow.set_tracking_uri(tracking_uri)
    client = MlflowClient()
    experiment = client.get_experiment_by_name("cloudsmith-demo")
    assert experiment is not None
    [run] = client.search_runs(
        [experiment.experiment_id], order_by=["attributes.start_time DESC"], max_results=1
    )
    console.rule(f"Run {run.info.run_id}")
    console.print(
        f"experiment [bold]{experiment.name}[/] (id {experiment.experiment_id}), "
        f"status {run.info.status}"
    )
    console.print(f"params  {dict(sorted(run.data.params.items()))}")
    console.print(f"metrics { {k: round(v, 4) for k, v in sorted(run.data.metrics.items())} }")
    console.print(f"artifact URI {run.info.artifact_uri}")

    tree = Tree(f"[bold]artifacts of run {run.info.run_id[:8]}[/] (as MLflow lists them)")

    def walk(path: str, branch: Tree) -> None:
        for info in client.list_artifacts(run.info.run_id, path):
            name = info.path.rsplit("/", 1)[-1]
            if info.is_dir:
                walk(info.path, branch.add(f"[bold blue]{name}/[/]"))
            else:
                branch.add(f"{name}  [dim]{human(info.file_size)}[/]")

    walk("", tree)
    console.print(tree)

    service = build_service(destination, settings=Settings.from_env())
    tags = {"mlflow", f"run-{run.info.run_id}"}
    records = list(service.store.query(service.location.repository, PackageQuery(frozenset(tags))))
    with contextlib.suppress(Exception):  # MLflow 3: the run's logged models live beside it
        for model in client.search_logged_models(experiment_ids=[experiment.experiment_id]):
            if model.source_run_id == run.info.run_id:
                query = PackageQuery(frozenset({"mlflow", f"model-{model.model_id}"}))
                records += list(service.store.query(service.location.repository, query))
    table = Table(title=f"Cloudsmith packages in {service.location.repository} behind this run")
    for column in ("name", "version", "size", "sha256", "tags"):
        table.add_column(column, overflow="fold", justify="right" if column == "size" else "left")
    for record in sorted(records, key=lambda r: r.name):
        table.add_row(
            record.name,
            record.version,
            human(record.size),
            record.checksum_sha256[:12] + "…",
            " ".join(tag for tag in record.tags if tag != "mlflow"),
        )
    console.print(table)
    console.print(f"{len(records)} packages, {human(sum(r.size for r in records))}")

    everything = list(
        service.store.query(service.location.repository, PackageQuery(frozenset({"mlflow"})))
    )
    runs = {tag for record in everything for tag in record.tags if tag.startswith("run-")}
    console.print(
        f"{service.location.repository} holds {len(everything)} MLflow packages from "
        f"{len(runs)} run(s): earlier demo runs stay (data in {_shown(state)}/)"
    )


def main() -> int:
    """Run the demo; ``--serve`` keeps the emulator and the MLflow UI up until Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--serve", action="store_true", help="keep the services running")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=DEFAULT_STATE,
        help="where the emulator's data, the MLflow database and the logs live",
    )
    args = parser.parse_args()
    # SIGTERM unwinds like Ctrl-C, so the services started below are stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    state = args.state_dir.absolute()
    state.mkdir(parents=True, exist_ok=True)
    emulator_port, mlflow_port = (8765, 5000) if args.serve else (0, None)
    with cloudsmith(emulator_port, state) as (destination, env):
        started = time.monotonic()
        with mlflow_server(
            backend_store_uri=f"sqlite:///{state / 'mlflow.db'}",
            artifacts_destination=destination,
            env=env,
            port=mlflow_port,
            log=state / "mlflow-server.log",
        ) as tracking_uri:
            console.print(
                f"[bold]mlflow server[/] at {tracking_uri} (artifacts → {destination}), "
                f"ready in {time.monotonic() - started:.0f} s"
            )
            if args.serve:
                console.print("Browse the MLflow UI at the address above. Ctrl-C stops both.")
                with contextlib.suppress(KeyboardInterrupt):
                    while True:
                        time.sleep(3600)
                return 0
            console.rule("examples/train.py")
            train_env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDSMITH_")}
            if not sys.stderr.isatty():  # no progress-bar frames in a log or a pipe
                train_env["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
            subprocess.run(
                [sys.executable, str(ROOT / "examples" / "train.py")],
                env={**train_env, "MLFLOW_TRACKING_URI": tracking_uri},
                check=True,
            )
            show(tracking_uri, destination, env, state)
    console.print("[green]Demo finished: everything it started is stopped.[/]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
