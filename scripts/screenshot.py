"""Screenshot of the MLflow UI showing a run's artifacts stored through the plugin.

Run: ``.venv/bin/python -m scripts.screenshot [--output docs/images/mlflow-ui-artifacts.png]``

Starts the emulator and a proxied ``mlflow server`` in a temporary folder, runs
``examples/train.py``, then drives headless Chromium (Debian's ``chromium``
package: ``apt-get install chromium``) over the DevTools protocol: it opens the
run's artifacts tab, expands the ``plots`` folder, opens the loss curve (so the
preview is downloaded through the plugin) and captures the page. Everything
started is stopped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from scripts.services import emulator, mlflow_server

ROOT = Path(__file__).resolve().parent.parent
KEY = "screenshot-key"
REPO = "demo/ml-artifacts"
#: What the UI is made to click, in order (by accessible name): the assistant
#: panel's close button, the folder, then the file shown in the preview pane.
CLICKS = ("Close", "plots", "loss curve.svg")
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
    "--remote-debugging-port=0",
)
#: Clicks the first element whose accessible name is the argument; says whether it found one.
_CLICK = """(name) => {
  const found = [...document.querySelectorAll('[aria-label]')]
    .find((element) => element.getAttribute('aria-label') === name);
  if (found) { found.click(); }
  return Boolean(found);
}"""


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


class _Page:
    """One Chromium tab spoken to over the DevTools protocol."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse[Any]) -> None:
        self._socket = socket
        self._ids = itertools.count(1)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one command and return its result (events in between are skipped)."""
        call_id = next(self._ids)
        await self._socket.send_json({"id": call_id, "method": method, "params": params})
        async for message in self._socket:
            answer = json.loads(message.data)
            if answer.get("id") == call_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return dict(answer.get("result", {}))
        raise RuntimeError("Chromium closed the DevTools connection")

    async def click(self, name: str, timeout: float = 30) -> None:
        """Click the element named ``name``, waiting for the UI to render it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = await self.call(
                "Runtime.evaluate", expression=f"({_CLICK})({json.dumps(name)})", returnByValue=True
            )
            if result["result"].get("value"):
                return
            await asyncio.sleep(0.5)
        raise RuntimeError(f"the MLflow UI showed nothing named {name!r} in {timeout} s")


async def _drive(devtools: str, url: str, output: Path) -> None:
    async with aiohttp.ClientSession() as http:
        targets = await (await http.get(f"{devtools}/json")).json()
        tab = next(target for target in targets if target["type"] == "page")
        async with http.ws_connect(tab["webSocketDebuggerUrl"], max_msg_size=0) as socket:
            page = _Page(socket)
            await page.call("Page.navigate", url=url)
            for name in CLICKS:
                await page.click(name)
                await asyncio.sleep(1)
            await asyncio.sleep(3)  # the preview downloads the file through the server
            shot = await page.call("Page.captureScreenshot", format="png")
            output.write_bytes(base64.b64decode(shot["data"]))


def capture(url: str, output: Path, chromium: str, profile: Path) -> None:
    """Open ``url`` in headless Chromium, click through :data:`CLICKS`, save a PNG."""
    output.parent.mkdir(parents=True, exist_ok=True)
    browser = subprocess.Popen(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.is_file() and port_file.read_text().strip()):
            if time.monotonic() > deadline or browser.poll() is not None:
                raise SystemExit("Chromium did not open its DevTools port")
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        asyncio.run(asyncio.wait_for(_drive(f"http://127.0.0.1:{port}", url, output), 120))
    finally:
        browser.terminate()
        browser.wait(timeout=30)
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
                env={
                    **clean_env,
                    "MLFLOW_TRACKING_URI": tracking_uri,
                    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
                },
                check=True,
                stdout=subprocess.DEVNULL,
            )
            experiment_id, run_id = newest_run(tracking_uri)
            url = f"{tracking_uri}/#/experiments/{experiment_id}/runs/{run_id}/artifacts"
            capture(url, args.output, args.chromium, work / "chromium-profile")
    print(f"Wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
