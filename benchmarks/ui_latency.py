"""Latency and memory of the Studio page, measured as a user's client sees it.

Starts ``python ui.py`` in its own process, drives it with ``gradio_client``: one blues chorus cold (the model
loads), then ``--repeats`` warm ones one after another, then ``--concurrent`` at once (the queue serves two at a
time), then one request to every other shipped model so all are loaded; reads the server's resident memory
(``VmRSS``) and its peak (``VmHWM``) from ``/proc``. Linux only (``/proc``).

    python benchmarks/ui_latency.py [--repeats 10] [--concurrent 8] [--port 7870] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHORUS = {"chart": "Bb7 | Eb7 | Bb7 | Bb7 | Eb7 | Eb7 | Bb7 | Bb7 | F7 | Eb7 | Bb7 | F7", "key": "Bb", "tempo": 120,
          "swing": 0.62, "choruses": 1, "bass": "walking", "drums": True, "comping": "piano", "lead": "tenor sax",
          "key_lock": False, "model": "blues", "temperature": 0.9, "top_p": 0.95, "beam": 1}
WRITE = {"prompt": "The", "length": 200, "search": "sample", "temperature": 0.8, "top_k": 0, "top_p": 1.0,
         "repetition_penalty": 1.0, "beams": 4, "groups": 2, "diversity": 0.5, "nbest": 3, "seed": 1}


def memory_mb(pid: int) -> dict[str, float]:
    """Resident and peak resident memory of a process, in MB (1e6 bytes)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) * 1024 / 1e6
    return fields


def wait_for(port: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(f"the page did not start on port {port} within {timeout:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10, help="warm blues choruses to time (default 10)")
    parser.add_argument("--concurrent", type=int, default=8, help="choruses asked for at once (default 8)")
    parser.add_argument("--port", type=int, default=7870)
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    args = parser.parse_args()

    os.environ.update(GRADIO_ANALYTICS_ENABLED="False", HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_OFFLINE="1")
    from gradio_client import Client

    from studio.loading import shipped_models

    shipped = shipped_models()
    if "blues" not in shipped:
        raise SystemExit("checkpoints/blues is missing: the benchmark times the shipped blues model")
    runs = tempfile.mkdtemp(prefix="studio-bench-runs-")  # no local models: shipped ones only
    server = subprocess.Popen([sys.executable, "ui.py", "--port", str(args.port), "--runs", runs], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        started = time.monotonic()
        wait_for(args.port)
        startup_s = time.monotonic() - started
        idle = memory_mb(server.pid)
        client = Client(f"http://127.0.0.1:{args.port}/", verbose=False, analytics_enabled=False,
                        download_files=tempfile.mkdtemp(prefix="studio-bench-dl-"))

        def chorus(seed: int) -> float:
            t = time.perf_counter()
            client.predict(**CHORUS, seed=seed, api_name="/compose_blues")
            return time.perf_counter() - t

        cold = chorus(0)
        warm = [chorus(seed) for seed in range(1, args.repeats + 1)]
        t = time.perf_counter()
        jobs = [client.submit(**CHORUS, seed=100 + i, api_name="/compose_blues") for i in range(args.concurrent)]
        for job in jobs:
            job.result(timeout=600)
        together = time.perf_counter() - t
        loaded = {}
        for name in ("shakespeare", "prose"):
            if name in shipped:
                t = time.perf_counter()
                client.predict(**WRITE, model=name, api_name="/write")
                loaded[f"write {name} (200 tokens)"] = time.perf_counter() - t
        if "chorale" in shipped:
            t = time.perf_counter()
            client.predict(model="chorale", primer=None, tokens=400, temperature=0.9, top_k=0, top_p=0.95, seed=1,
                           api_name="/compose_music")
            loaded["compose chorale (400 tokens)"] = time.perf_counter() - t
        after = memory_mb(server.pid)
        client.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    numbers = {
        "cpu": f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the end",
        "startup_s": round(startup_s, 2),
        "blues_chorus_cold_s": round(cold, 3),
        "blues_chorus_warm_s": {"median": round(statistics.median(warm), 3), "max": round(max(warm), 3),
                                "min": round(min(warm), 3), "n": len(warm)},
        f"blues_{args.concurrent}_at_once_s": round(together, 2),
        "other_requests_s": {k: round(v, 3) for k, v in loaded.items()},
        "models_loaded": sorted(shipped),
        "rss_mb": {"idle": round(idle["VmRSS"]), "all_models_loaded": round(after["VmRSS"]),
                   "peak": round(after["VmHWM"])},
    }
    if args.json:
        print(json.dumps(numbers, indent=2))
    else:
        for key, value in numbers.items():
            print(f"{key:>22}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
