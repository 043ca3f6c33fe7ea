#!/usr/bin/python3
"""The measuring half of scripts/bench-cri: a Kubernetes pod's life through
containerd's CRI, each runtime handler in turn (interleaved round by round,
the order rotating), every CRI call timed by the wall clock around it.

  bench-cri.py SOCKET PB2_DIR ROUNDS LOGDIR HANDLER...

Prints a markdown table: median ms per call for each handler, and each
non-first handler's ratio to the first (per round, median [min-max]).
"""
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "cri"))
import cri  # noqa: E402

sock, pb2_dir, rounds, logdir = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
handlers = sys.argv[5:]
client = cri.Client(sock, pb2_dir)
steps = ["RunPodSandbox", "CreateContainer", "StartContainer", "StopContainer", "RemoveContainer",
         "StopPodSandbox", "RemovePodSandbox"]


def call(method, request):
    t0 = time.perf_counter()
    answer = client.call("runtime.v1.RuntimeService/" + method, request)
    took = (time.perf_counter() - t0) * 1000
    if "error" in answer:
        raise SystemExit(f"{method}: {answer['error']}")
    return answer["response"], took


def pod_life(handler, n):
    uid = f"bench-{handler}-{n}"
    config = {"metadata": {"name": "bench", "uid": uid, "namespace": "bench"}, "log_directory": logdir,
              "linux": {"cgroup_parent": os.environ.get("CGROUP_PARENT", "/skiff-bench-cri") + "/pod" + uid,
                        "security_context": {"namespace_options": {"network": "NODE"}}}}
    t = {}
    r, t["RunPodSandbox"] = call("RunPodSandbox", {"config": config, "runtime_handler": handler})
    pod = r["pod_sandbox_id"]
    container = {"metadata": {"name": "c"}, "image": {"image": os.environ["IMAGE"]}, "command": ["sleep", "60"],
                 "log_path": f"c-{n}.log"}
    r, t["CreateContainer"] = call("CreateContainer", {"pod_sandbox_id": pod, "config": container, "sandbox_config": config})
    cid = r["container_id"]
    _, t["StartContainer"] = call("StartContainer", {"container_id": cid})
    _, t["StopContainer"] = call("StopContainer", {"container_id": cid, "timeout": 10})
    _, t["RemoveContainer"] = call("RemoveContainer", {"container_id": cid})
    _, t["StopPodSandbox"] = call("StopPodSandbox", {"pod_sandbox_id": pod})
    _, t["RemovePodSandbox"] = call("RemovePodSandbox", {"pod_sandbox_id": pod})
    return t


# One of each first: the images' snapshots, the first shim start.
for h in handlers:
    pod_life(h, -1)
samples = {h: [] for h in handlers}
for n in range(rounds):
    order = handlers[n % len(handlers):] + handlers[:n % len(handlers)]
    for h in order:
        samples[h].append(pod_life(h, n))


def fmt(values):
    return f"{statistics.median(values):.2f} [{min(values):.2f}–{max(values):.2f}]"


base = handlers[0]
print(f"| CRI call (ms, median [min–max] of {rounds}) | " + " | ".join(handlers) + " | "
      + " | ".join(f"{h} / {base}" for h in handlers[1:]) + " |")
print("|---|" + "---|" * (2 * len(handlers) - 1))
for step in steps + ["total"]:
    def value(s):
        return sum(s.values()) if step == "total" else s[step]
    cols = [fmt([value(s) for s in samples[h]]) for h in handlers]
    ratios = [fmt([value(samples[h][i]) / value(samples[base][i]) for i in range(rounds)]) for h in handlers[1:]]
    print(f"| {step} | " + " | ".join(cols) + " | " + " | ".join(ratios) + " |")
