"""Tables and plots of scripts/loop_results.sh's runs (issue 11's results).

Reads OUT/<family>-loop-seed<S>/ (an `aslseg train` loop run) and
OUT/<family>-sup<10|100>-seed<S>/test_metrics.json and
OUT/<family>-ssl10-<paradigm>-seed<S>/test_metrics.json (`aslseg evaluate` of an ensemble
trained without the loop; a 10 % row trained with the loop's own paradigm is the loop's round 1),
writes OUT/results.md, OUT/loop_results.png and OUT/learning_curves.png, and with --doc replaces the part of that markdown file between its results markers with results.md.
"""
import argparse
import json
import os
import statistics
import sys

BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
STAGES = (("ss", "SS"), ("ss_sam", "SS → SAM"), ("ss_sam_an", "SS → SAM → AN"))
# The targets (docs/loop_results.md).
TARGET_SUPERVISED_10 = 0.5
TARGET_LOOP_OVER_SSL = 0.03
TARGET_GAP_SHARE = 0.5
# A supervised 10 % -> 100 % gap below this is within the seed-to-seed spread of one row
# (docs/ss_recipe.md): its share is not reported.
MIN_GAP = 0.02


def tumour_dice(path):
    """Mean tumour Dice over the test cases that have tumour; None when the file is missing."""
    if not os.path.exists(path):
        return None
    cases = json.load(open(path))["cases"]
    d = [c["classes"]["tumour"]["dice"] for c in cases if c["classes"]["tumour"]["gt_voxels"] > 0]
    return statistics.mean(d) if d else None


def global_tumour_dice(path):
    """LiTS's "Dice global": one Dice over the tumour voxels of every test case pooled."""
    if not os.path.exists(path):
        return None
    inter = total = 0.0
    for c in json.load(open(path))["cases"]:
        t = c["classes"]["tumour"]
        inter += t["dice"] * (t["gt_voxels"] + t["pred_voxels"]) / 2.0
        total += t["gt_voxels"] + t["pred_voxels"]
    return 2.0 * inter / total if total > 0 else None


def liver_dice(path):
    if not os.path.exists(path):
        return None
    cases = json.load(open(path))["cases"]
    return statistics.mean(c["classes"]["liver"]["dice"] for c in cases)


def fmt(values, digits=3):
    v = [x for x in values if x is not None]
    if not v:
        return "n/a"
    if len(v) == 1:
        return f"{v[0]:.{digits}f}"
    return f"{statistics.mean(v):.{digits}f} ± {statistics.pstdev(v):.{digits}f}"


def seeds_list(values):
    return ", ".join("n/a" if x is None else f"{x:.3f}" for x in values)


def mean_or_none(values):
    v = [x for x in values if x is not None]
    return statistics.mean(v) if v else None


PARADIGM_NAMES = {"mean_teacher": "mean teacher", "ua_mt": "UA-MT", "cps": "cross pseudo "
                  "supervision", "supervised": "supervised"}


def loop_paradigm(run):
    """The SSL paradigm a loop run's SS was trained with (its config.json), or None."""
    path = f"{run}/config.json"
    return json.load(open(path)).get("ssl", {}).get("paradigm") if os.path.exists(path) else None


def ten_percent_metrics(path, run, row_paradigm):
    """PATH, or the loop's round-1 test metrics when PATH was not trained because the loop's
    round 1 is that row (same nets, seeds, labels and steps: loop_results.sh skips it)."""
    if not os.path.exists(path) and loop_paradigm(run) == row_paradigm:
        return f"{run}/round_1/test/ss/test_metrics.json"
    return path


def load_family(out, f, seeds, paradigms):
    fam = {"sup10": [], "sup100": [], "sup10_liver": [], "sup100_liver": [], "sup10_global": [],
           "sup100_global": [], "loops": [], "ssl": {}}
    for p in paradigms:
        rows = [ten_percent_metrics(f"{out}/{f}-ssl10-{p}-seed{s}/test_metrics.json",
                                    f"{out}/{f}-loop-seed{s}", p) for s in seeds]
        fam["ssl"][p] = {"dice": [tumour_dice(r) for r in rows],
                         "global": [global_tumour_dice(r) for r in rows],
                         "liver": [liver_dice(r) for r in rows]}
    for s in seeds:
        run = f"{out}/{f}-loop-seed{s}"
        for share in ("10", "100"):
            path = f"{out}/{f}-sup{share}-seed{s}/test_metrics.json"
            if share == "10":
                path = ten_percent_metrics(path, run, "supervised")
            fam[f"sup{share}"].append(tumour_dice(path))
            fam[f"sup{share}_liver"].append(liver_dice(path))
            fam[f"sup{share}_global"].append(global_tumour_dice(path))
        summary_path = f"{run}/summary.json"
        loop = {"run": run, "seed": s, "rounds": [], "skipped": {}, "seconds": None,
                "paradigm": loop_paradigm(run)}
        if os.path.exists(summary_path):
            summary = json.load(open(summary_path))
            for key, name in (("sam", "SAM"), ("an", "adaptation net")):
                if isinstance(summary.get(key), dict) and "skipped" in summary[key]:
                    loop["skipped"][key] = summary[key]["skipped"]
            for r in summary["rounds"]:
                k = r["round"]
                entry = {"round": k, "selected": r.get("selected"), "pool": r.get("pool"),
                         "quality": r.get("selection_quality") or {}, "stages": {}, "global": {},
                         "liver": None}
                for stage, _ in STAGES:
                    path = f"{run}/round_{k}/test/{stage}/test_metrics.json"
                    entry["stages"][stage] = tumour_dice(path)
                    entry["global"][stage] = global_tumour_dice(path)
                entry["liver"] = liver_dice(f"{run}/round_{k}/test/ss/test_metrics.json")
                loop["rounds"].append(entry)
        if os.path.exists(f"{run}.seconds"):
            loop["seconds"] = int(open(f"{run}.seconds").read().strip() or 0)
        fam["loops"].append(loop)
    return fam


def round_values(fam, k, stage, key="stages"):
    out = []
    for loop in fam["loops"]:
        r = [e for e in loop["rounds"] if e["round"] == k]
        out.append(r[0][key][stage] if r else None)
    return out


def first_round_ss(loop):
    return loop["rounds"][0]["stages"]["ss"] if loop["rounds"] else None


def last_round_ss(loop):
    return loop["rounds"][-1]["stages"]["ss"] if loop["rounds"] else None


def family_table(f, name, fam, seeds):
    lines = []
    rounds = max((len(l["rounds"]) for l in fam["loops"]), default=0)
    lines.append(f"### {name}\n")
    lines.append("| model | tumour Dice, mean ± sd | per seed | tumour Dice global | liver Dice "
                 "| note |")
    lines.append("|---|---|---|---|---|---|")
    lines.append(f"| supervised 10 % | {fmt(fam['sup10'])} | {seeds_list(fam['sup10'])} | "
                 f"{fmt(fam['sup10_global'])} | {fmt(fam['sup10_liver'])} | labelled volumes only |")
    for p, row in fam["ssl"].items():
        if all(v is None for v in row["dice"]):
            continue  # not run (an older results folder)
        lines.append(f"| SSL only 10 %: {PARADIGM_NAMES.get(p, p)} | {fmt(row['dice'])} | "
                     f"{seeds_list(row['dice'])} | {fmt(row['global'])} | {fmt(row['liver'])} | "
                     "labelled + unlabelled volumes, no loop |")
    skipped = {}
    for l in fam["loops"]:
        skipped.update(l["skipped"])
    for k in range(1, rounds + 1):
        for stage, label in STAGES:
            v = round_values(fam, k, stage)
            note = ""
            if stage == "ss":
                if k == 1:
                    p = next((l["paradigm"] for l in fam["loops"] if l["paradigm"]), None)
                    note = ("labelled volumes only (supervised)" if p == "supervised" else
                            f"SSL only ({PARADIGM_NAMES.get(p, p)})")
                else:
                    note = "trained with the selected PLs"
                liver = fmt([next((e["liver"] for e in l["rounds"] if e["round"] == k), None)
                             for l in fam["loops"]])
            else:
                liver = "as SS"
                key = "sam" if stage == "ss_sam" else "an"
                if key in skipped:
                    note = f"{skipped[key]}: repeats the stage before"
                if stage == "ss_sam_an":
                    sel = [next((e for e in l["rounds"] if e["round"] == k), None)
                           for l in fam["loops"]]
                    sel = [f"{e['selected']}/{e['pool']}" for e in sel if e]
                    note = (note + "; " if note else "") + "selected " + ", ".join(sel)
            g = fmt(round_values(fam, k, stage, "global"))
            lines.append(f"| round {k}: {label} | {fmt(v)} | {seeds_list(v)} | {g} | {liver} "
                         f"| {note} |")
    lines.append(f"| supervised 100 % | {fmt(fam['sup100'])} | {seeds_list(fam['sup100'])} | "
                 f"{fmt(fam['sup100_global'])} | {fmt(fam['sup100_liver'])} | upper bound: every "
                 "training volume labelled |")
    lines.append("")

    # The targets, per seed where they are per seed. "SSL only" is the best SSL-only
    # row of the seed; without those rows, the loop's round 1 when it trained an SSL paradigm.
    ssl = []
    for i, l in enumerate(fam["loops"]):
        rows = [row["dice"][i] for row in fam["ssl"].values() if row["dice"][i] is not None]
        if rows:
            ssl.append(max(rows))
        elif l["paradigm"] != "supervised":
            ssl.append(first_round_ss(l))
        else:
            ssl.append(None)
    final = [last_round_ss(l) for l in fam["loops"]]
    over = [None if a is None or b is None else b - a for a, b in zip(ssl, final)]
    gaps = []
    upper = mean_or_none(fam["sup100"])  # for a seed without its own supervised 100 % run
    for lo, hi, v in zip(fam["sup10"], fam["sup100"], final):
        hi = upper if hi is None else hi
        gaps.append(None if None in (lo, hi, v) or hi - lo < MIN_GAP else (v - lo) / (hi - lo))
    m10, mo = mean_or_none(fam["sup10"]), mean_or_none(over)
    # The headline share is taken on the family means (the table's rows), not averaged over
    # seeds: a seed whose own gap is below MIN_GAP has no share, and averaging the rest would
    # report the luckiest seed as the family's result.
    m100, mfinal = mean_or_none(fam["sup100"]), mean_or_none(final)
    mg = (None if None in (m10, m100, mfinal) or m100 - m10 < MIN_GAP
          else (mfinal - m10) / (m100 - m10))
    def mark(value, target):
        return "n/a" if value is None else ("met" if value >= target else "**missed**")
    lines.append("| target | measured (on the means of seeds) | per seed | |")
    lines.append("|---|---|---|---|")
    lines.append(f"| supervised 10 % tumour Dice ≥ {TARGET_SUPERVISED_10} | "
                 f"{'n/a' if m10 is None else f'{m10:.3f}'} | {seeds_list(fam['sup10'])} | "
                 f"{mark(m10, TARGET_SUPERVISED_10)} |")
    lines.append(f"| loop (last round's SS) beats SSL only by ≥ {TARGET_LOOP_OVER_SSL:.2f} | "
                 f"{'n/a' if mo is None else f'{mo:+.3f}'} | {seeds_list(over)} | "
                 f"{mark(mo, TARGET_LOOP_OVER_SSL)} |")
    if all(v is None for v in over):
        # No SSL-only row (a supervised loop without ASLSEG_RESULTS_PARADIGMS): what the
        # pseudo-labels add over the loop's own round 1, for information.
        r1 = [first_round_ss(l) for l in fam["loops"]]
        gain = [None if a is None or b is None else b - a for a, b in zip(r1, final)]
        mgain = mean_or_none(gain)
        lines.append(f"| (information) loop's last round over its round 1 | "
                     f"{'n/a' if mgain is None else f'{mgain:+.3f}'} | {seeds_list(gain)} | |")
    lines.append(f"| loop closes ≥ {TARGET_GAP_SHARE:.0%} of the gap supervised 10 % → 100 % | "
                 f"{'n/a' if mg is None else f'{mg:.0%}'} | "
                 f"{', '.join('n/a' if g is None else f'{g:.0%}' for g in gaps)} | "
                 f"{mark(mg, TARGET_GAP_SHARE)} |")
    if m10 is not None and m100 is not None and m100 - m10 < MIN_GAP:
        lines.append(f"\nThe gap itself is {m100 - m10:+.3f} (supervised 100 % {m100:.3f} against 10 % "
                     f"{m10:.3f}), below {MIN_GAP}: all the training labels do not beat three "
                     "of them at this budget, so there is no gap for the loop to close; shares are "
                     "given only where a seed's gap is at least that.")
    lines.append("")

    # How good the selected pseudo-labels were (hidden labels; evaluation only).
    lines.append("| round | selected of pool, per seed | tumour Dice of selected PLs | "
                 "of rejected PLs |")
    lines.append("|---|---|---|---|")
    for k in range(1, rounds + 1):
        rs = [next((e for e in l["rounds"] if e["round"] == k), None) for l in fam["loops"]]
        picks = ", ".join(f"{e['selected']}/{e['pool']}" if e else "n/a" for e in rs)
        def quality(group):
            return fmt([(e["quality"].get(group) or {}).get("mean_pl3_tumour_dice") if e else None
                        for e in rs])
        lines.append(f"| {k} | {picks} | {quality('selected')} | {quality('rejected')} |")
    secs = [l["seconds"] for l in fam["loops"] if l["seconds"]]
    if secs:
        lines.append("")
        lines.append("Loop wall time per seed: " + ", ".join(f"{s // 60} min {s % 60:02d} s"
                                                             for s in secs) + ".")
    lines.append("")
    return lines


def plot(out, families, data, seeds):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not found: no plots (apt install python3-matplotlib)", file=sys.stderr)
        return []
    fig, axes = plt.subplots(1, len(families), figsize=(6 * len(families), 4), squeeze=False)
    for ax, f in zip(axes[0], families):
        fam = data[f]
        rounds = max((len(l["rounds"]) for l in fam["loops"]), default=0)
        labels, means, sds = [], [], []
        for k in range(1, rounds + 1):
            for stage, label in STAGES:
                v = [x for x in round_values(fam, k, stage) if x is not None]
                labels.append(f"r{k} {label.replace('SS → ', '+').replace(' → ', '+')}")
                means.append(statistics.mean(v) if v else float("nan"))
                sds.append(statistics.pstdev(v) if len(v) > 1 else 0.0)
        x = range(len(labels))
        ax.errorbar(x, means, yerr=sds, fmt="o-", capsize=4, label="loop (mean ± sd)")
        for key, style, name in (("sup10", "--", "supervised 10 %"),
                                 ("sup100", ":", "supervised 100 %")):
            m = mean_or_none(fam[key])
            if m is not None:
                ax.axhline(m, linestyle=style, color="grey", label=f"{name} ({m:.3f})")
        ax.set_xticks(list(x))
        ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
        ax.set_ylim(0, 1)
        ax.set_ylabel("tumour Dice (test cases with tumour)")
        ax.set_title(f"{FAMILY_NAMES.get(f, f)}, {len(seeds)} seeds")
        ax.legend(fontsize=8)
    fig.tight_layout()
    dice_png = f"{out}/loop_results.png"
    fig.savefig(dice_png, dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(1, len(families), figsize=(6 * len(families), 4), squeeze=False)
    for ax, f in zip(axes[0], families):
        for l in data[f]["loops"]:
            for e in l["rounds"]:
                path = f"{l['run']}/round_{e['round']}/ss/metrics.jsonl"
                if not os.path.exists(path):
                    continue
                steps, loss = [], []
                for line in open(path):
                    j = json.loads(line)
                    if "sup" in j:
                        steps.append(j["step"])
                        loss.append(j["sup"])
                ax.plot(steps, loss, label=f"seed {l['seed']}, round {e['round']}",
                        linestyle="-" if e["round"] == 1 else "--")
        ax.set_xlabel("step (round 2 and later: warm-started from round 1)")
        ax.set_ylabel("supervised loss (Dice + CE), SS member 1")
        ax.set_title(FAMILY_NAMES.get(f, f))
        ax.legend(fontsize=7)
    fig.tight_layout()
    curves_png = f"{out}/learning_curves.png"
    fig.savefig(curves_png, dpi=110)
    plt.close(fig)
    return [dice_png, curves_png]


FAMILY_NAMES = {"a": "(a) development family", "b": "(b) held-out family"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--set", default="", help="the config overrides of every run (shown)")
    ap.add_argument("--seeds", nargs="+", required=True)
    ap.add_argument("--families", nargs="+", required=True)
    ap.add_argument("--paradigms", nargs="*", default=["mean_teacher"])
    ap.add_argument("--doc")
    a = ap.parse_args()
    data = {f: load_family(a.out, f, a.seeds, a.paradigms) for f in a.families}
    overrides = "".join(f" --set {kv}" for kv in a.set.split())
    lines = [f"Generated by `./scripts/loop_results.sh` (config `{a.config}`{overrides}, seeds "
             f"{', '.join(a.seeds)}). Tumour Dice: the mean over the test cases that have tumour "
             "(the issue's measure); global: one Dice over the tumour voxels of all test cases "
             "pooled (LiTS's second measure, less swayed by cases with a few tumour voxels).", ""]
    for f in a.families:
        lines += family_table(f, FAMILY_NAMES.get(f, f), data[f], a.seeds)
    pngs = plot(a.out, a.families, data, a.seeds)
    text = "\n".join(lines) + "\n"
    open(f"{a.out}/results.md", "w").write(text)
    print(text)
    for p in pngs:
        print("wrote", p)
    if a.doc:
        doc = open(a.doc).read()
        if BEGIN not in doc or END not in doc:
            sys.exit(f"{a.doc}: no {BEGIN} ... {END} markers; results are in {a.out}/results.md")
        img_dir = os.path.join(os.path.dirname(a.doc), "img")
        os.makedirs(img_dir, exist_ok=True)
        images = ""
        for p in pngs:
            name = os.path.basename(p)
            with open(p, "rb") as src, open(os.path.join(img_dir, name), "wb") as dst:
                dst.write(src.read())
            images += f"\n![{name}](img/{name})\n"
        head, rest = doc.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        open(a.doc, "w").write(head + BEGIN + "\n" + text + images + END + tail)
        print("updated", a.doc)


if __name__ == "__main__":
    main()
