"""Each fault and lifecycle knob does what it says, and can change at runtime."""

from __future__ import annotations

import time

import pytest
import requests

from cloudsmith_mlflow.emulator import EmulatorConfig, EmulatorHandle, FaultSettings, run_emulator
from tests.emulator.kit import API_KEY, REPO, Api


def status_of(api: Api, slug: str) -> dict[str, object]:
    response = api.get(f"packages/{REPO}/{slug}/status/")
    assert response.status_code == 200
    result: dict[str, object] = response.json()
    return result


def test_sync_delay_keeps_a_package_in_flight_then_completes(
    api: Api, emulator: EmulatorHandle
) -> None:
    emulator.set_faults(sync_delay=0.8)
    created = api.push(REPO, "s.bin", b"sync", name="s")
    assert created["is_sync_awaiting"] is True
    assert created["status_str"] == "Awaiting Synchronisation"
    assert requests.get(created["cdn_url"], auth=("token", API_KEY), timeout=10).status_code == 404
    assert api.names(REPO, "status:in_progress") == ["s"]
    time.sleep(0.4)
    middle = status_of(api, created["slug_perm"])
    assert middle["is_sync_in_progress"] is True
    assert 0 < int(str(middle["sync_progress"])) < 100
    time.sleep(0.5)
    done = status_of(api, created["slug_perm"])
    assert done["is_sync_completed"] is True
    assert done["sync_finished_at"]
    assert requests.get(created["cdn_url"], auth=("token", API_KEY), timeout=10).content == b"sync"


def test_sync_fail_rate_fails_syncs_and_resync_can_recover(
    api: Api, emulator: EmulatorHandle
) -> None:
    emulator.set_faults(sync_fail_rate=1.0)
    created = api.push(REPO, "f.bin")
    status = status_of(api, created["slug_perm"])
    assert status["is_sync_failed"] is True
    assert status["status"] == 5
    assert status["status_str"] == "Failed"
    assert status["status_reason"]
    assert requests.get(created["cdn_url"], auth=("token", API_KEY), timeout=10).status_code == 404
    emulator.set_faults(sync_fail_rate=0.0)
    resynced = api.post(f"packages/{REPO}/{created['slug_perm']}/resync/", json={}).json()
    assert resynced["is_sync_completed"] is True


def test_duplicates_fail_sync_policy(api: Api, emulator: EmulatorHandle) -> None:
    emulator.set_faults(duplicates="fail-sync")
    first = api.push(REPO, "d.bin", b"1", name="d", version="1")
    second = api.create(REPO, api.upload(REPO, "d.bin", b"2"), name="d", version="1")
    assert second.status_code == 201
    status = status_of(api, second.json()["slug_perm"])
    assert status["is_sync_failed"] is True
    assert "package should be deleted" in str(status["status_reason"])
    assert status["stage_str"] == "Parsing Package Metadata"
    # A resync does not help while the other package exists.
    api.post(f"packages/{REPO}/{second.json()['slug_perm']}/resync/", json={})
    assert status_of(api, second.json()["slug_perm"])["is_sync_failed"] is True
    assert status_of(api, first["slug_perm"])["is_sync_completed"] is True


def test_duplicates_reject_policy_is_the_default(emulator: EmulatorHandle) -> None:
    assert emulator.faults.duplicates == "reject"


def test_fail_rate_answers_5xx_without_effect(api: Api, emulator: EmulatorHandle) -> None:
    identifier = api.upload(REPO, "x.bin", b"x")
    emulator.set_faults(fail_rate=1.0)
    statuses = set()
    for _ in range(12):
        response = api.create(REPO, identifier)
        assert 500 <= response.status_code <= 504
        statuses.add(response.status_code)
        assert "X-RateLimit-Limit" in response.headers
    assert len(statuses) > 1
    emulator.set_faults(fail_rate=0.0)
    assert api.list(REPO).json() == []
    assert api.create(REPO, identifier).status_code == 201


def test_throttle_rate_answers_429_with_retry_after(api: Api, emulator: EmulatorHandle) -> None:
    emulator.set_faults(throttle_rate=1.0, throttle_retry_after=7)
    response = api.list(REPO)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.json() == {"detail": "Request was throttled. Expected available in 7 seconds."}


def test_reset_before_has_no_effect(api: Api, emulator: EmulatorHandle) -> None:
    identifier = api.upload(REPO, "x.bin", b"x")
    emulator.set_faults(reset_rate=1.0, reset_after_share=0.0, fault_filter=r"POST .*/upload/raw/")
    with pytest.raises(requests.ConnectionError):
        api.create(REPO, identifier)
    emulator.set_faults(reset_rate=0.0)
    assert api.list(REPO).json() == []
    assert api.create(REPO, identifier).status_code == 201


def test_reset_after_takes_effect_before_the_connection_drops(
    api: Api, emulator: EmulatorHandle
) -> None:
    identifier = api.upload(REPO, "x.bin", b"x")
    emulator.set_faults(reset_rate=1.0, reset_after_share=1.0, fault_filter=r"POST .*/upload/raw/")
    with pytest.raises(requests.ConnectionError):
        api.create(REPO, identifier, name="made")
    emulator.set_faults(reset_rate=0.0)
    # The create took effect: a client must check before retrying.
    assert api.names(REPO, "name:^made$") == ["made"]
    retry = api.create(REPO, identifier, name="made")
    assert retry.status_code == 422
    (record,) = list(emulator.requests(path_contains="/upload/raw/"))[:1]
    assert record.status is None


def test_fault_filter_limits_faults_to_matching_requests(
    api: Api, emulator: EmulatorHandle
) -> None:
    emulator.set_faults(fail_rate=1.0, fault_filter=r"^DELETE ")
    slug = api.push(REPO, "x.bin")["slug_perm"]
    assert api.delete(f"packages/{REPO}/{slug}/").status_code >= 500


def test_faults_also_hit_the_storage_listener(api: Api, emulator: EmulatorHandle) -> None:
    slot = api.request_upload(REPO, "x.bin", b"x")
    emulator.set_faults(throttle_rate=1.0, fault_filter="cloudsmith-emulator-uploads")
    response = requests.post(
        slot["upload_url"], data=slot["upload_fields"], files={"file": ("x.bin", b"x")}, timeout=10
    )
    assert response.status_code == 503
    assert b"<Code>SlowDown</Code>" in response.content


def test_latency_delays_every_request(api: Api, emulator: EmulatorHandle) -> None:
    emulator.set_faults(latency_ms=300)
    started = time.monotonic()
    api.get("status/check/basic/")
    assert time.monotonic() - started >= 0.3


def test_latency_skips_the_control_endpoints(emulator: EmulatorHandle) -> None:
    emulator.set_faults(latency_ms=1000)
    started = time.monotonic()
    info = requests.get(
        f"{emulator.url}/_emulator/info", headers={"X-Api-Key": API_KEY}, timeout=10
    )
    assert info.status_code == 200
    assert time.monotonic() - started < 1.0


def test_injected_failures_on_storage_are_s3_500_or_503(api: Api, emulator: EmulatorHandle) -> None:
    slot = api.request_upload(REPO, "x.bin", b"x")
    emulator.set_faults(fail_rate=1.0, fault_filter="cloudsmith-emulator-uploads")
    answers = set()
    for _ in range(12):
        response = requests.post(
            slot["upload_url"],
            data=slot["upload_fields"],
            files={"file": ("x.bin", b"x")},
            timeout=10,
        )
        code = response.content.split(b"<Code>", 1)[1].split(b"</Code>", 1)[0]
        answers.add((response.status_code, code.decode()))
    assert answers == {(500, "InternalError"), (503, "ServiceUnavailable")}


def test_rate_limit_is_enforced_per_hour(emulator: EmulatorHandle) -> None:
    emulator.set_faults(rate_limit=3, rate_interval=0.25)
    api = Api(emulator.url)
    remaining = []
    for _ in range(3):
        response = api.list(REPO)
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == "3"
        assert response.headers["X-RateLimit-Interval"] == "0.25"
        remaining.append(int(response.headers["X-RateLimit-Remaining"]))
    assert remaining == [2, 1, 0]
    throttled = api.list(REPO)
    assert throttled.status_code == 429
    retry_after = int(throttled.headers["Retry-After"])
    assert 1 <= retry_after <= 3600
    assert throttled.json()["detail"] == (
        f"Request was throttled. Expected available in {retry_after} seconds."
    )
    assert int(throttled.headers["X-RateLimit-Reset"]) > time.time()


def test_same_seed_same_faults(tmp_path: object) -> None:
    def statuses(seed: int) -> list[int]:
        config = EmulatorConfig(
            api_key=API_KEY, repos=(REPO,), seed=seed, faults=FaultSettings(fail_rate=0.5)
        )
        with run_emulator(config) as emulator:
            api = Api(emulator.url)
            return [api.get("status/check/basic/").status_code for _ in range(20)]

    first = statuses(7)
    assert first == statuses(7)
    assert set(first) - {200}
    assert 200 in first


def test_faults_change_through_the_control_endpoint(emulator: EmulatorHandle) -> None:
    api = Api(emulator.url)
    changed = requests.post(
        f"{emulator.url}/_emulator/faults",
        json={"throttle_rate": 1.0},
        headers={"X-Api-Key": API_KEY},
        timeout=10,
    )
    assert changed.status_code == 200
    assert changed.json()["throttle_rate"] == 1.0
    assert api.list(REPO).status_code == 429
    # Control endpoints are never disturbed by faults.
    info = requests.get(
        f"{emulator.url}/_emulator/info", headers={"X-Api-Key": API_KEY}, timeout=10
    )
    assert info.json()["storage_url"] == emulator.storage_url
    bad = requests.post(
        f"{emulator.url}/_emulator/faults",
        json={"nope": 1},
        headers={"X-Api-Key": API_KEY},
        timeout=10,
    )
    assert bad.status_code == 400
    anonymous = requests.get(f"{emulator.url}/_emulator/info", timeout=10)
    assert anonymous.status_code == 401


def test_faults_set_context_manager_restores(emulator: EmulatorHandle) -> None:
    with emulator.faults_set(fail_rate=1.0):
        assert emulator.faults.fail_rate == 1.0
    assert emulator.faults.fail_rate == 0.0


def test_invalid_knobs_are_refused(emulator: EmulatorHandle) -> None:
    with pytest.raises(ValueError, match="fail_rate"):
        emulator.set_faults(fail_rate=2)
    with pytest.raises(TypeError, match="unknown"):
        emulator.set_faults(explode=True)
    with pytest.raises(ValueError, match="fault_filter"):
        emulator.set_faults(fault_filter="[unclosed")
    assert emulator.faults.fault_filter is None


def test_an_invalid_fault_filter_is_a_400_at_the_control_endpoint(
    emulator: EmulatorHandle,
) -> None:
    response = requests.post(
        f"{emulator.url}/_emulator/faults",
        json={"fault_filter": "[unclosed", "fail_rate": 1.0},
        headers={"X-Api-Key": API_KEY},
        timeout=10,
    )
    assert response.status_code == 400
    body = response.json()
    assert list(body) == ["detail"]
    assert "fault_filter" in body["detail"]
    assert "regular expression" in body["detail"]
    # Nothing was changed.
    assert (emulator.faults.fault_filter, emulator.faults.fail_rate) == (None, 0.0)
