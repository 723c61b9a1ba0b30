"""The assistants measured on held-out data: triage per language against its baselines, latency, memory.

Trains the triage model from a pack's examples (packs/kl by default) and evaluates it on
tests/ai/data/triage_heldout.yaml, which no training code reads; prints, per language (en, ml,
kn, hi, romanised), top-1 accuracy, macro-F1 and top-3 accuracy of the model, of a keyword
matcher and of the majority class; the latency of one suggestion (language identification,
transliteration, features, scores and reasons: p50 and p99 over every held-out complaint,
repeated); duplicate detection's precision and recall on tests/ai/data/duplicates_heldout.yaml
beside plain fuzzy matching; demand forecasting's MASE against seasonal naive on
tests/ai/data/forecast_heldout.yaml (simulated series, the last year held out), the interval's coverage; and the memory the model adds to a process (resident set before importing the
assistant and after a warm suggestion).

    .venv/bin/python bench/ai.py [--pack packs/kl] [--rounds 20]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def rss_mb() -> float:
    with Path("/proc/self/status").open() as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


SERVER_SIDE = """
import sys, time
def rss():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024
before = rss()
from nagara.ai.triage import TriageModel
model = TriageModel.from_bytes(open(sys.argv[1], 'rb').read())
model.suggest('road il valiya kuzhi und')
print(f"{rss() - before:.0f} {'sklearn' in sys.modules}")
"""


def server_memory(blob: bytes) -> tuple[float, bool]:
    """Memory a process adds by loading a stored model and suggesting once, measured in a fresh process."""
    with tempfile.NamedTemporaryFile(suffix=".npz") as f:
        f.write(blob)
        f.flush()
        out = subprocess.run([sys.executable, "-c", SERVER_SIDE, f.name], check=True, capture_output=True, text=True).stdout.split()
    return float(out[0]), out[1] == "True"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pack", default=str(ROOT / "packs" / "kl"))
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()

    before = rss_mb()
    from nagara.ai import text
    from nagara.ai import triage as tr

    config = tr.read_config(Path(args.pack))
    if config is None:
        raise SystemExit(f"{args.pack} has no ai/triage.yaml")
    examples = tr.read_examples(Path(args.pack), config)
    started = time.perf_counter()
    trained = tr.train(examples, config)
    train_s = time.perf_counter() - started
    blob = trained.to_bytes()

    doc = yaml.safe_load((ROOT / "tests" / "ai" / "data" / "triage_heldout.yaml").read_text(encoding="utf-8"))
    held = [tr.Example(x, c, lang) for lang, cats in doc.items() for c, xs in cats.items() for x in xs]
    model = tr.TriageModel.from_bytes(blob)  # as a server would: from the stored bytes
    rankers = {"model": tr.ModelRanker(model), "keyword": tr.KeywordBaseline(examples), "majority": tr.MajorityBaseline(examples)}

    print(f"triage: trained on {len(examples)} examples {dict(model.trained_on)} in {train_s:.1f} s; {len(model.terms)} features; "
          f"stored model {len(blob) / 1024:.0f} KiB; held-out {len(held)} complaints")
    print(f"{'language':<10} {'n':>4}  {'model acc':>9} {'F1':>5} {'top3':>5}  {'keyword acc':>11} {'F1':>5} {'top3':>5}  {'majority acc':>12}")
    for language in (*text.LANGUAGES, "all"):
        subset = [e for e in held if language in ("all", e.language)]
        s = {name: tr.score(r, subset) for name, r in rankers.items()}
        print(f"{language:<10} {len(subset):>4}  {s['model'].accuracy:>9.2f} {s['model'].macro_f1:>5.2f} {s['model'].top3:>5.2f}  "
              f"{s['keyword'].accuracy:>11.2f} {s['keyword'].macro_f1:>5.2f} {s['keyword'].top3:>5.2f}  {s['majority'].accuracy:>12.2f}")

    identified = sum(text.identify(e.text).code == e.language for e in held)
    print(f"language identification on the held-out set: {identified}/{len(held)} right")

    model.suggest(held[0].text)  # warm: fastText and the transliteration tables load on first use
    after = rss_mb()
    timings, cpu = [], []
    for _ in range(args.rounds):
        for e in held:
            started, started_cpu = time.perf_counter(), time.thread_time()
            model.suggest(e.text)
            cpu.append((time.thread_time() - started_cpu) * 1000)
            timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    cpu.sort()

    def p(values: list[float], q: float) -> float:
        return values[int(len(values) * q) - 1]

    print(f"suggestion latency over {len(timings)} calls: p50 {statistics.median(timings):.2f} ms, p99 {p(timings, 0.99):.2f} ms, "
          f"max {timings[-1]:.2f} ms; the thread's CPU time p50 {statistics.median(cpu):.2f} ms, p99 {p(cpu, 0.99):.2f} ms "
          f"(wall minus CPU is waiting for a core: load average {Path('/proc/loadavg').read_text().split()[0]} on {len(os.sched_getaffinity(0))} cores)")
    from datetime import UTC, datetime

    from rapidfuzz import fuzz

    from nagara.ai import duplicates as dup

    similarity = dup.Similarity(model)
    now = datetime.now(UTC)
    doc = yaml.safe_load((ROOT / "tests" / "ai" / "data" / "duplicates_heldout.yaml").read_text(encoding="utf-8"))
    pairs = [(dup.Complaint("a", p["a"], now, category=p["category_a"]), dup.Complaint("b", p["b"], now, category=p["category_b"]), p["same"])
             for p in doc["pairs"]]
    ours, base, dup_ms = [], [], []
    for a, b, same in pairs:
        started = time.perf_counter()
        ours.append((similarity.same(a, b)[0], same))
        dup_ms.append((time.perf_counter() - started) * 1000)
        base.append((a.category == b.category and fuzz.token_set_ratio(text.normalise(a.text), text.normalise(b.text)) >= 70, same))
    for name, decisions in (("duplicates", ours), ("fuzzy baseline", base)):
        tp = sum(x and y for x, y in decisions)
        fp = sum(x and not y for x, y in decisions)
        fn = sum(y and not x for x, y in decisions)
        print(f"{name}: precision {tp / max(1, tp + fp):.2f}, recall {tp / max(1, tp + fn):.2f} on {len(decisions)} held-out pairs")
    dup_ms.sort()
    print(f"duplicate check of one pair: p50 {statistics.median(dup_ms):.2f} ms, p99 {p(dup_ms, 0.99):.2f} ms")

    import numpy as np

    from nagara.ai import forecast

    series = yaml.safe_load((ROOT / "tests" / "ai" / "data" / "forecast_heldout.yaml").read_text(encoding="utf-8"))["series"]
    model_mase, naive_mase, inside, fc_ms = [], [], [], []
    for s in series:
        weekly = np.array(s["weekly"], dtype=float)
        for origin in (156, 169, 182, 195):  # the held-out last year, a quarter at a time, 12 weeks ahead
            history, actual = weekly[:origin], weekly[origin : origin + 12]
            started = time.perf_counter()
            fc = forecast.forecast(history, 12)
            fc_ms.append((time.perf_counter() - started) * 1000)
            model_mase.append(forecast.mase(actual, fc.mean, history))
            naive_mase.append(forecast.mase(actual, forecast.seasonal_naive(history, 12), history))
            inside.append(float(np.mean((actual >= np.array(fc.low)) & (actual <= np.array(fc.high)))))
    fc_ms.sort()
    wins = sum(a < b for a, b in zip(model_mase, naive_mase, strict=True))
    print(f"forecast, {len(model_mase)} held-out 12-week stretches of {len(series)} simulated series (tests/ai/data/forecast_heldout.yaml): "
          f"MASE {statistics.mean(model_mase):.3f} against seasonal naive {statistics.mean(naive_mase):.3f} "
          f"(better on {wins}); 80% interval held {statistics.mean(inside):.0%} of the weeks; "
          f"one forecast p50 {statistics.median(fc_ms):.2f} ms, p99 {p(fc_ms, 0.99):.2f} ms")

    served, sklearn_loaded = server_memory(blob)
    print(f"memory: a process that loads the stored model and suggests adds {served:.0f} MB "
          f"(scikit-learn loaded: {'yes' if sklearn_loaded else 'no'}); training adds {after - before:.0f} MB to its process")


if __name__ == "__main__":
    main()
