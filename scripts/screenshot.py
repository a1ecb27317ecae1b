"""Screenshot of the MLflow UI showing a run's artifacts stored through the plugin.

Run: ``.venv/bin/python -m scripts.screenshot [--output docs/images/mlflow-ui-artifacts.png]``

Starts the emulator and a proxied ``mlflow server`` in a temporary folder, runs
``examples/train.py``, then asks headless Chromium (Debian's ``chromium``
package: ``apt-get install chromium``) to render the run's artifacts page with
one file open. Everything started is stopped afterwards.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from scripts.services import emulator, mlflow_server

ROOT = Path(__file__).resolve().parent.parent
KEY = "screenshot-key"
REPO = "demo/ml-artifacts"
#: The artifact opened in the UI's preview pane.
PREVIEW = "plots/loss_curve.svg"
#: Without these flags Chromium phones home at start, which a closed network refuses.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=1440,900",
    "--virtual-time-budget=20000",
)


def newest_run(tracking_uri: str) -> tuple[str, str]:
    """(experiment id, run id) of the example's newest run."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name("cloudsmith-demo")
    if experiment is None:
        raise SystemExit("examples/train.py did not create the 'cloudsmith-demo' experiment")
    [run] = client.search_runs(
        [experiment.experiment_id], order_by=["attributes.start_time DESC"], max_results=1
    )
    return experiment.experiment_id, run.info.run_id


def capture(url: str, output: Path, chromium: str, profile: Path) -> None:
    """Render ``url`` headless into ``output`` (PNG)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={output}", url],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=120,
    )
    if not output.is_file() or output.stat().st_size == 0:
        raise SystemExit(f"Chromium wrote no screenshot to {output}")


def main() -> int:
    """Produce the screenshot; exits 1 with the fix when Chromium is missing."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--output", type=Path, default=ROOT / "docs" / "images" / "mlflow-ui-artifacts.png"
    )
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args()
    if not Path(args.chromium).is_file():
        print("Chromium not found: install it with `apt-get install chromium`.", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="cloudsmith-mlflow-screenshot-") as scratch:
        work = Path(scratch)
        with (
            emulator(work / "emulator", api_key=KEY, repos=[REPO]) as api_url,
            mlflow_server(
                backend_store_uri=f"sqlite:///{work / 'mlflow.db'}",
                artifacts_destination=f"cloudsmith://{REPO}",
                env={"CLOUDSMITH_API_KEY": KEY, "CLOUDSMITH_API_HOST": api_url},
                log=work / "mlflow-server.log",
            ) as tracking_uri,
        ):
            clean_env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDSMITH_")}
            subprocess.run(
                [sys.executable, str(ROOT / "examples" / "train.py")],
                env={**clean_env, "MLFLOW_TRACKING_URI": tracking_uri},
                check=True,
                stdout=subprocess.DEVNULL,
            )
            experiment_id, run_id = newest_run(tracking_uri)
            url = (
                f"{tracking_uri}/#/experiments/{experiment_id}/runs/{run_id}/artifactPath/{PREVIEW}"
            )
            capture(url, args.output, args.chromium, work / "chromium-profile")
    print(f"Wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
