"""A client process for the streaming test: log one file through the REST store and
download it back, watching its own resident memory; prints the figures as JSON.

Run as ``python -m tests.rest.streaming_client API_HOST SOURCE DESTINATION`` with
``CLOUDSMITH_API_KEY`` set. Its own process, so its memory is only its own.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

from tests.support.memory import MIB, PeakMemory

from cloudsmith_mlflow.adapters.rest import CloudsmithRestStore
from cloudsmith_mlflow.domain.uri import ArtifactLocation
from cloudsmith_mlflow.services import ArtifactService
from cloudsmith_mlflow.settings import Secret, Settings

RUN_PATH = "1/0123456789abcdef0123456789abcdef/artifacts"


def main(api_host: str, source: Path, destination: Path) -> None:
    """Upload ``source`` and download it into ``destination``; print what it cost."""
    settings = Settings(api_key=Secret(os.environ["CLOUDSMITH_API_KEY"]), api_host=api_host)
    location = ArtifactLocation.parse("cloudsmith://acme/ml")
    with CloudsmithRestStore(settings) as store:
        service = ArtifactService(store, location)
        memory = PeakMemory()  # after the imports and the set-up: the baseline
        record = service.log_file(source, RUN_PATH)
        after_upload = memory.peak
        local = service.download_file(f"{RUN_PATH}/{source.name}", destination / source.name)
        memory.stop()
    digest = hashlib.sha256()
    with local.open("rb") as copy:
        while block := copy.read(MIB):
            digest.update(block)
    figures = {
        "start_rss": memory.start,
        "upload_peak_rss": after_upload,
        "peak_rss": memory.peak,
        "stored_size": record.size,
        "downloaded_sha256": digest.hexdigest(),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))
