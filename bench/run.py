#!/usr/bin/env python
"""Run every benchmark in bench/ (files bench_*.py exposing run()), print a table, write bench/results/latest.json.

Each result is {name, value, unit, baseline, baseline_value, ratio}: ratio = how many times better than the baseline
a user would otherwise use, both measured in this same run on this machine. Speed is never asserted in tests.
"""
import glob
import importlib.util
import json
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
importlib.import_module("conftest")  # makes ansible_collections.voipops.voip importable

KEYS = ("name", "value", "unit", "baseline", "baseline_value", "ratio")


def load(path):
    spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _target(r):
    return "" if "met" not in r else ("met (%s)" % r["target"] if r["met"] else "**MISSED** (%s)" % r["target"])


def markdown(results):
    """The table as Markdown (docs/bench.md shows a reference run's)."""
    out = ["| result | value | unit | baseline / peer | its value | ratio | target | job log |",
           "|---|---:|---|---|---:|---:|---|---:|"]
    for r in results:
        out.append("| %s | %.4g | %s | %s | %s | %s | %s | %s |" % (
            r["name"], float(r["value"]), r["unit"], str(r["baseline"]).replace("|", "/"),
            "-" if r["baseline_value"] is None else "%.4g" % float(r["baseline_value"]),
            "-" if r.get("ratio") is None else "%.2fx" % float(r["ratio"]), _target(r),
            "%.0f kB" % (r["log_bytes"] / 1000.0) if "log_bytes" in r else ""))
    return "\n".join(out) + "\n"


def main(argv):
    only = set(argv[1:])
    results, failures = [], []
    for path in sorted(glob.glob(os.path.join(HERE, "bench_*.py"))):
        name = os.path.basename(path)[len("bench_"):-3]
        if only and name not in only:
            continue
        print("== %s" % name, flush=True)
        started = time.time()
        try:
            for res in load(path).run():
                missing = [k for k in KEYS if k not in res]
                if missing:
                    raise ValueError("result %r lacks %s" % (res.get("name"), ", ".join(missing)))
                results.append(res)
        except Exception:  # pylint: disable=broad-exception-caught  # a broken bench must not hide the others
            failures.append(name)
            traceback.print_exc()
        print("   (%.1f s)" % (time.time() - started), flush=True)
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    latest = os.path.join(HERE, "results", "latest.json")
    if only and os.path.exists(latest):  # a partial run updates its own rows and keeps the others
        with open(latest) as handle:
            fresh = set(r["name"] for r in results)
            results = [r for r in json.load(handle) if r["name"] not in fresh] + results
    with open(latest, "w") as handle:
        json.dump(results, handle, indent=2)
        handle.write("\n")
    width = max([len(r["name"]) for r in results] + [4])
    print("\n%s %14s %-10s %14s  %-34s %8s  %s" % ("name".ljust(width), "value", "unit", "baseline", "baseline is",
                                                   "ratio", "target"))
    for r in results:
        missing = r["baseline_value"] is None      # a peer that is not installed
        target = "" if "met" not in r else ("met (%s)" % r["target"] if r["met"] else "MISSED (%s)" % r["target"])
        if "log_bytes" in r:  # end-to-end runs: what the job log received
            target = ("job log %.0f kB  " % (r["log_bytes"] / 1000.0)) + target
        print("%s %14.4g %-10s %14s  %-34s %8s  %s" % (
            str(r["name"]).ljust(width), float(r["value"]), r["unit"],
            "-" if missing else "%.4g" % float(r["baseline_value"]), str(r["baseline"])[:34],
            "-" if missing or r["ratio"] is None else "%.2fx" % float(r["ratio"]), target))
    with open(os.path.join(HERE, "results", "latest.md"), "w") as handle:
        handle.write(markdown(results))
    print("\nwritten: bench/results/latest.json and latest.md (%d results), charts bench/results/*.svg" % len(results))
    if failures:
        print("FAILED benches: %s" % ", ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
