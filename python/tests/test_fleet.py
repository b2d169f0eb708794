"""Fleet mode from Python: two agents in one process, each a replica of a
fleet on a real nats-server (loopback port, temporary directory), learn
one model and serve the same version.

Without nats-server the test is skipped, except under REFIT_REQUIRE_NATS
(set by .ci/run), where it fails."""

import os
import re
import shutil
import subprocess
import threading
import time

import numpy as np
import pytest

import refit


@pytest.fixture
def nats(tmp_path):
    exe = shutil.which("nats-server")
    if exe is None:
        if os.environ.get("REFIT_REQUIRE_NATS"):
            pytest.fail("REFIT_REQUIRE_NATS is set but nats-server is not installed")
        pytest.skip("nats-server not found (apt-get install nats-server)")
    server = subprocess.Popen(
        [exe, "-js", "-a", "127.0.0.1", "-p", "-1", "-sd", str(tmp_path / "nats")],
        stderr=subprocess.PIPE,
        text=True,
    )
    url = None
    for line in server.stderr:
        found = re.search(r"Listening for client connections on (\S+)", line)
        if found:
            url = "nats://" + found.group(1)
            break
    threading.Thread(target=server.stderr.read, daemon=True).start()
    assert url, "nats-server printed its address"
    yield url
    server.kill()
    server.wait()


def test_two_replicas_learn_one_model(tmp_path, nats):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(3000, 3)).astype(np.float32)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.float32)
    agents = []
    try:
        for name in ["py-1", "py-2"]:
            config = tmp_path / f"{name}.toml"
            config.write_text(
                "[online]\nmin_samples_per_update = 500\nupdate_frequency = \"500ms\"\n"
                f'[fleet]\nurl = "{nats}"\nreplica = "{name}"\nlease_ttl = "2s"\ntimeout = "1s"\n'
            )
            agents.append(
                refit.Agent(str(config), features=["a", "b", "c"], data_dir=str(tmp_path / name))
            )
        for i in range(6):
            chunk = (X[i * 500 : (i + 1) * 500], y[i * 500 : (i + 1) * 500])
            ack = agents[i % 2].ingest(*chunk, idempotency_key=f"chunk-{i}")
            assert ack["accepted"] == 500
            if i == 0:
                # A retry under the same key (its answer lost, say): stored once.
                agents[1].ingest(*chunk, idempotency_key="chunk-0")
        deadline = time.time() + 20
        while True:
            stats = [a.stats() for a in agents]
            trainers = [s for s in stats if s["fleet"]["training"]]
            if (
                len(trainers) == 1
                and trainers[0]["trainer"]["samples_seen"] == 3000
                and stats[0]["serving_version"] == stats[1]["serving_version"]
            ):
                break
            assert time.time() < deadline, f"the fleet did not converge: {stats}"
            time.sleep(0.05)
        # Acknowledged 3 500 times, stored and learned 3 000 times.
        assert sum(s["ingest"]["published"] for s in stats) == 3500
        time.sleep(1.0)
        assert [a.stats()["trainer"]["samples_seen"] for a in agents if a.stats()["fleet"]["training"]] == [3000]
        np.testing.assert_allclose(agents[0].predict(X[:50]), agents[1].predict(X[:50]))
    finally:
        for a in agents:
            a.shutdown()
