#!/usr/bin/env python3
"""README's "Tuning" example, reproducible: a week of a JVM service's memory,
written as OpenMetrics, backfilled with promtool, served by a real
prometheus on 127.0.0.1, and replayed with `memhpa simulate
-from-prometheus` under two specs.

    cargo build --release && python3 scripts/tuning-example.py [MEMHPA_BINARY]

The service (namespace shop, Deployment checkout, limit 2 GiB per pod) holds
a 900 MiB heap floor per pod whatever its load, and its load follows the day:
1.5 GiB at night, 9 GiB at the weekday peak, less at the weekend. What ran is
a schedule a person keeps by hand: 10 pods from 08:00 to 20:00 on weekdays,
6 otherwise. Needs Debian's prometheus package (prometheus and promtool).
"""

import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

MI = 1 << 20
STEP = 60
DAYS = 7
LIMIT = 2048 * MI
FLOOR = 900 * MI
NAMESPACE, NAME, REPLICASET = "shop", "checkout", "checkout-7c9f6d8b45"
# Kubernetes' vowel-free alphabet, so the names pass for real pod names.
SAFE = "bcdfghjklmnpqrstvwxz2456789"


def load(minute):
    day, minute_of_day = divmod(minute, 1440)
    hour = minute_of_day / 60.0
    daytime = max(0.0, math.sin(math.pi * (hour - 6.0) / 14.0)) if 6 <= hour <= 20 else 0.0
    peak = 9.0 if day % 7 < 5 else 4.0
    wobble = 0.25 * math.sin(2 * math.pi * minute / 97.0)
    return int((1.5 + (peak - 1.5) * daytime ** 1.5 + wobble) * 1024 * MI)


def scheduled_pods(minute):
    day, minute_of_day = divmod(minute, 1440)
    return 10 if day % 7 < 5 and 8 * 60 <= minute_of_day < 20 * 60 else 6


def pod_name(i):
    return f"{REPLICASET}-" + "".join(SAFE[(i * 7919 + k * 31) % len(SAFE)] for k in range(5))


def noise(i, minute):
    x = ((i + 1) * 2654435761 ^ (minute * 40503)) & 0xFFFFFFFF
    return (x % (6 * MI))


def openmetrics(t0):
    steps = DAYS * 1440 + 1
    alive, pods, born_at = [], [], {}
    for minute in range(steps):
        want = scheduled_pods(minute)
        while len(alive) < want:
            i = len(pods)
            pods.append([pod_name(i), minute, steps])
            alive.append(i)
        while len(alive) > want:
            pods[alive.pop()][2] = minute
    lines = ["# TYPE container_memory_working_set_bytes gauge"]
    for i, (name, born, died) in enumerate(pods):
        labels = f'namespace="{NAMESPACE}",pod="{name}",container="app"'
        for minute in range(born, died):
            share = load(minute) // scheduled_pods(minute)
            at = t0 + minute * STEP - STEP // 2
            lines.append(f"container_memory_working_set_bytes{{{labels}}} {share + FLOOR + noise(i, minute)} {at}")
    for family, value, extra in [
        ("kube_pod_owner", 1, f',owner_kind="ReplicaSet",owner_name="{REPLICASET}",owner_is_controller="true"'),
        ("kube_pod_container_resource_limits", LIMIT, ',container="app",resource="memory",unit="byte"'),
    ]:
        lines.append(f"# TYPE {family} gauge")
        for name, born, died in pods:
            labels = f'namespace="{NAMESPACE}",pod="{name}"{extra}'
            for minute in range(born, died):
                lines.append(f"{family}{{{labels}}} {value} {t0 + minute * STEP - STEP // 2}")
    lines.append("# TYPE kube_replicaset_owner gauge")
    labels = f'namespace="{NAMESPACE}",replicaset="{REPLICASET}",owner_kind="Deployment",owner_name="{NAME}",owner_is_controller="true"'
    for minute in range(steps):
        lines.append(f"kube_replicaset_owner{{{labels}}} 1 {t0 + minute * STEP - STEP // 2}")
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    memhpa = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release/memhpa")
    # A week that ended at midnight UTC two days ago: old enough to backfill.
    end = (int(time.time()) // 86400 - 2) * 86400
    t0 = end - DAYS * 86400
    work = tempfile.mkdtemp(prefix="memhpa-tuning-")
    prom = None
    try:
        data = os.path.join(work, "data")
        with open(os.path.join(work, "history.om"), "w") as f:
            f.write(openmetrics(t0))
        subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics",
                        os.path.join(work, "history.om"), data],
                       check=True, stdout=subprocess.DEVNULL)
        port = free_port()
        open(os.path.join(work, "prometheus.yml"), "w").close()
        prom = subprocess.Popen(
            ["prometheus", f"--web.listen-address=127.0.0.1:{port}",
             f"--storage.tsdb.path={data}", "--storage.tsdb.retention.time=100y",
             f"--config.file={os.path.join(work, 'prometheus.yml')}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(url + "/-/ready", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        specs = {
            "hpa-like.json": '{"minReplicas": 2, "maxReplicas": 20, "targetUtilizationPercentage": 75}',
            "baseline.json": '{"minReplicas": 2, "maxReplicas": 20, "targetUtilizationPercentage": 75, "podBaseline": "900Mi"}',
        }
        args = [memhpa, "simulate", "-from-prometheus", url,
                "-workload", f"{NAMESPACE}/Deployment/{NAME}",
                "-since", "7d", "-until", str(end), "-step", "1m", "-prom-timeout", "30s"]
        for name, text in specs.items():
            with open(os.path.join(work, name), "w") as f:
                f.write(text)
            args += ["-spec", name]
        out = subprocess.run(args, check=True, capture_output=True, text=True, cwd=work).stdout
        sys.stdout.write(out)
    finally:
        if prom:
            prom.send_signal(signal.SIGTERM)
            prom.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
