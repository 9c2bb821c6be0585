#!/usr/bin/env python3
"""Side-by-side CPU benchmark of aslseg against the PyTorch peer (bench/peers/unet_peer.py).

Runs, alternately and REPEATS times: aslseg's trainer (build/bench/train_bench, supervised, at
configs/ssl.json and configs/demo.json size) against the peer's training step in NCHW and in
channels_last; `aslseg infer` on a 512x512xZ phantom against the peer's infer path. aslseg runs
with no environment variable set; the peer with the allocator settings that make PyTorch
fastest here (MALLOC_MMAP_MAX_=0, MALLOC_TRIM_THRESHOLD_) and the same thread count. Also
measures the oneDNN single-conv ceiling (build/bench/conv_bench). Prints medians and ratios and
writes them as JSON. Called by scripts/bench_vs_pytorch.sh.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PEER = os.path.join(ROOT, "bench", "peers", "unet_peer.py")
PEER_PYTHON = "/usr/bin/python3"  # Debian's python3-torch
# The peer gets aslseg's start-up settings by environment: glibc keeps freed memory, and
# OpenBLAS runs on the calling thread (its spinning pthread workers otherwise take the cores
# from LibTorch's OpenMP team; core/runtime.h).
PEER_MALLOC = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": "8589934592",
               "OPENBLAS_NUM_THREADS": "1"}

# name -> config file and measured steps; the U-Net size and batch are read from the config,
# so the peer runs exactly what aslseg runs.
RUNS = {"ssl": ("configs/ssl.json", 6), "demo": ("configs/demo.json", 150)}


def size_of(config, steps):
    with open(os.path.join(ROOT, config)) as f:
        c = json.load(f)
    # The side of what a training step sees: the patch when the config trains on patches.
    size = c.get("data", {}).get("patch_size", 0) or c["preprocess"]["image_size"]
    return {"config": config, "size": size, "norm": c["model"].get("norm", "batch"),
            "base": c["model"]["base_width"], "depth": c["model"]["depth"],
            "batch": c["optim"]["batch_labelled"], "steps": steps}


SIZES = {name: size_of(*run) for name, run in RUNS.items()}


def unet_forward_flop(size, base, depth, in_ch=3, classes=3):
    """FLOP (2 per multiply-add) of one forward pass per slice; convolutions only."""
    flop = 0.0
    cin = in_ch
    for level in range(depth):
        s2 = (size >> level) ** 2
        w = base << level
        flop += 2 * s2 * 9 * (cin * w + w * w)
        cin = w
    for level in range(depth - 2, -1, -1):
        s2 = (size >> level) ** 2
        w = base << level
        flop += 2 * s2 * 4 * (2 * w) * w          # transposed conv 2x2 from 2w channels
        flop += 2 * s2 * 9 * (2 * w * w + w * w)  # decoder block
    flop += 2 * size * size * base * classes      # 1x1 head
    return flop


def train_flop_per_slice(cfg):
    """Forward + backward: backward costs two forwards (input and weight gradients)."""
    return 3 * unet_forward_flop(cfg["size"], cfg["base"], cfg["depth"])


def run(cmd, env_extra=None, env_drop=()):
    """Runs cmd; returns its stdout and that child's own wall, user, system time and peak RSS
    (os.wait4 reports the resources of exactly the child it reaps)."""
    env = {k: v for k, v in os.environ.items() if k not in env_drop}
    env.update(env_extra or {})
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{stderr[-3000:]}")
    return stdout, {"wall_s": wall, "user_s": usage.ru_utime, "sys_s": usage.ru_stime,
                    "max_rss_MiB": usage.ru_maxrss / 1024.0}


def aslseg_train(build, cfg):
    out, usage = run([os.path.join(build, "bench", "train_bench"),
                      "--benchmark_filter=BM_Train/supervised/", "--benchmark_format=json"],
                     {"ASLSEG_BENCH_CONFIG": os.path.join(ROOT, cfg["config"]),
                      "ASLSEG_BENCH_TRAIN_STEPS": str(cfg["steps"])},
                     env_drop=("OMP_NUM_THREADS",))
    bench = json.loads(out)["benchmarks"][0]
    return {"slices_per_s": bench["slices_per_s"], "peak_rss_MiB": bench.get("peak_rss_MiB"),
            **usage}


PEER_VARIANTS = {"nchw": [], "nhwc": ["--channels-last"],
                 "nhwc_bf16": ["--channels-last", "--bf16"]}
FP32_VARIANTS = ("nchw", "nhwc")


def peer_train(cfg, threads, variant):
    cmd = [PEER_PYTHON, PEER, "train", "--size", str(cfg["size"]), "--base", str(cfg["base"]),
           "--depth", str(cfg["depth"]), "--norm", cfg["norm"], "--batch", str(cfg["batch"]),
           "--steps", str(cfg["steps"]), "--threads", str(threads)] + PEER_VARIANTS[variant]
    out, usage = run(cmd, PEER_MALLOC)
    r = json.loads(out.strip().splitlines()[-1])
    r.update({"process_" + k: v for k, v in usage.items()})
    return r


def aslseg_infer(build, model, volume, out_dir, bf16):
    out, usage = run([os.path.join(build, "aslseg"), "-q", "infer", "--model", model, "--input",
                      volume, "--output", out_dir, "--bf16" if bf16 else "--no-bf16"],
                     env_drop=("OMP_NUM_THREADS",))
    return {"seconds": usage["wall_s"], **usage}


def peer_infer(volume, output, threads, variant):
    cmd = [PEER_PYTHON, PEER, "infer", "--input", volume, "--output", output,
           "--threads", str(threads)] + PEER_VARIANTS[variant]
    out, usage = run(cmd, PEER_MALLOC)
    r = json.loads(out.strip().splitlines()[-1])
    r.update({"process_" + k: v for k, v in usage.items()})
    return r


def conv_ceiling(build):
    out, _ = run([os.path.join(build, "bench", "conv_bench"), "--benchmark_format=json"],
                 env_drop=("OMP_NUM_THREADS",))
    return {b["label"]: b["GFLOP_per_s"] for b in json.loads(out)["benchmarks"]}


def med(rows, key):
    return statistics.median(r[key] for r in rows)


def sys_share(rows):
    user = sum(r.get("user_s", r.get("process_user_s", 0)) for r in rows)
    sys_ = sum(r.get("sys_s", r.get("process_sys_s", 0)) for r in rows)
    return sys_ / max(user + sys_, 1e-9)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--infer-slices", type=int, default=100)
    ap.add_argument("--skip", default="", help="comma list of parts to skip: ssl,demo,infer")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "vs_pytorch.json"))
    a = ap.parse_args()
    skip = set(filter(None, a.skip.split(",")))
    aslseg = os.path.join(a.build, "aslseg")
    work = tempfile.mkdtemp(prefix="aslseg-vs-pytorch-")

    results = {"date": time.strftime("%Y-%m-%d"), "threads": a.threads, "repeats": a.repeats,
               "cpu": open("/proc/cpuinfo").read().split("model name")[1].split("\n")[0]
               .strip(" :\t"),
               "peer_env": PEER_MALLOC, "conv_ceiling_GFLOP_per_s": conv_ceiling(a.build)}
    conv = results["conv_ceiling_GFLOP_per_s"]
    ceiling_fp32 = max(v for k, v in conv.items() if "fp32" in k)
    ceiling_bf16 = max(v for k, v in conv.items() if "bf16" in k)
    print(f"conv ceiling (oneDNN, 32->32 3x3, batch 8, 256^2, fwd+bwd): "
          f"{results['conv_ceiling_GFLOP_per_s']} GFLOP/s", flush=True)

    if "infer" not in skip:
        data = os.path.join(work, "data")
        run([aslseg, "-q", "synth", "--out", data, "--cases", "1", "--seed", "3", "--size",
             f"512,512,{a.infer_slices}", "--spacing", "0.7,0.7,1.5"])
        volume = os.path.join(data, "volume-0.nii.gz")
        tiny = os.path.join(work, "tiny")
        run([aslseg, "-q", "synth", "--out", tiny, "--cases", "4", "--seed", "1", "--size",
             "64,64,16"])
        model_run = os.path.join(work, "model")
        run([aslseg, "-q", "train", "--config", os.path.join(ROOT, "configs", "ssl.json"),
             "--data", tiny, "--out", model_run, "--set", "optim.steps=1",
             "--set", "ssl.paradigm=supervised", "--set", "split.labelled_fraction=0.5",
             "--set", "split.test_fraction=0.25"])
        model = model_run

    rows = {}
    for rep in range(a.repeats):
        for name, cfg in SIZES.items():
            if name in skip:
                continue
            rows.setdefault(f"train_{name}_aslseg", []).append(aslseg_train(a.build, cfg))
            for v in PEER_VARIANTS:
                rows.setdefault(f"train_{name}_peer_{v}", []).append(peer_train(cfg, a.threads, v))
            print(f"[{rep + 1}/{a.repeats}] train {name} slices/s: aslseg "
                  f"{rows[f'train_{name}_aslseg'][-1]['slices_per_s']:.2f}; PyTorch " +
                  ", ".join(f"{v} {rows[f'train_{name}_peer_{v}'][-1]['slices_per_s']:.2f}"
                            for v in PEER_VARIANTS), flush=True)
        if "infer" not in skip:
            rows.setdefault("infer_aslseg", []).append(
                aslseg_infer(a.build, model, volume, os.path.join(work, f"masks-{rep}"), False))
            rows.setdefault("infer_aslseg_bf16", []).append(
                aslseg_infer(a.build, model, volume, os.path.join(work, f"masks-bf-{rep}"), True))
            for v in PEER_VARIANTS:
                rows.setdefault(f"infer_peer_{v}", []).append(
                    peer_infer(volume, os.path.join(work, f"peer-{v}-{rep}.nii.gz"), a.threads, v))
            print(f"[{rep + 1}/{a.repeats}] infer s: aslseg {rows['infer_aslseg'][-1]['seconds']:.1f}"
                  f", aslseg bf16 {rows['infer_aslseg_bf16'][-1]['seconds']:.1f}; PyTorch " +
                  ", ".join(f"{v} {rows[f'infer_peer_{v}'][-1]['seconds']:.1f}"
                            for v in PEER_VARIANTS), flush=True)

    summary = {}
    print("\n| run | aslseg | best PyTorch fp32 | ratio | PyTorch bf16 | ratio | "
          "aslseg GFLOP/s (% of fp32 / bf16 ceiling) | aslseg sys % |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, cfg in SIZES.items():
        if name in skip:
            continue
        ours = med(rows[f"train_{name}_aslseg"], "slices_per_s")
        peers = {v: med(rows[f"train_{name}_peer_{v}"], "slices_per_s") for v in PEER_VARIANTS}
        best = max(FP32_VARIANTS, key=peers.get)
        gflops = ours * train_flop_per_slice(cfg) * 1e-9
        summary[f"train_{name}"] = {
            "aslseg_slices_per_s": ours, "peer_slices_per_s": peers, "best_peer_fp32": best,
            "ratio_vs_best_fp32": ours / peers[best], "ratio_vs_bf16": ours / peers["nhwc_bf16"],
            "aslseg_GFLOP_per_s": gflops, "share_of_fp32_ceiling": gflops / ceiling_fp32,
            "share_of_bf16_ceiling": gflops / ceiling_bf16,
            "aslseg_sys_share": sys_share(rows[f"train_{name}_aslseg"]),
            "peer_sys_share": sys_share(rows[f"train_{name}_peer_{best}"]),
            "flop_per_slice": train_flop_per_slice(cfg)}
        s = summary[f"train_{name}"]
        print(f"| train {name} (slices/s) | {ours:.2f} | {peers[best]:.2f} ({best}) | "
              f"{s['ratio_vs_best_fp32']:.2f}x | {peers['nhwc_bf16']:.2f} | "
              f"{s['ratio_vs_bf16']:.2f}x | {gflops:.0f} ({100 * s['share_of_fp32_ceiling']:.0f} % "
              f"/ {100 * s['share_of_bf16_ceiling']:.0f} %) | {100 * s['aslseg_sys_share']:.1f} |")
    if "infer" not in skip:
        for ours_key in ("infer_aslseg", "infer_aslseg_bf16"):
            ours = med(rows[ours_key], "seconds")
            peers = {v: med(rows[f"infer_peer_{v}"], "seconds") for v in PEER_VARIANTS}
            best = min(FP32_VARIANTS, key=peers.get)
            peer_rss = max(r["peak_rss_MiB"] for r in rows[f"infer_peer_{best}"])
            our_rss = max(r["max_rss_MiB"] for r in rows[ours_key])
            summary[ours_key] = {"aslseg_s": ours, "peer_s": peers, "best_peer_fp32": best,
                                 "ratio_vs_best_fp32": peers[best] / ours,
                                 "ratio_vs_bf16": peers["nhwc_bf16"] / ours,
                                 "slices": a.infer_slices,
                                 "aslseg_sys_share": sys_share(rows[ours_key]),
                                 "peer_peak_rss_MiB": peer_rss, "aslseg_peak_rss_MiB": our_rss}
            s = summary[ours_key]
            print(f"| {ours_key.replace('_', ' ')} 512x512x{a.infer_slices} (s) | {ours:.1f} | "
                  f"{peers[best]:.1f} ({best}) | {s['ratio_vs_best_fp32']:.2f}x | "
                  f"{peers['nhwc_bf16']:.1f} | {s['ratio_vs_bf16']:.2f}x | | "
                  f"{100 * s['aslseg_sys_share']:.1f} |")
        for k in ("infer_aslseg", "infer_aslseg_bf16"):
            print(f"peak RSS {k}: {summary[k]['aslseg_peak_rss_MiB']:.0f} MiB; PyTorch best fp32 "
                  f"{summary[k]['peer_peak_rss_MiB']:.0f} MiB")
    results.update({"summary": summary, "runs": rows})
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(results, f, indent=1)
    print(f"\nwritten: {a.out}")


if __name__ == "__main__":
    main()
