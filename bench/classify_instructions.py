"""Instructions per message of the SMS classifier, counted by valgrind's callgrind.

Why: on a shared, loaded machine the CPU time of the same code swings by a third between runs
(bench/classify.py: 16k–24k msg/s), so a 10 % change cannot be seen by timing. Callgrind counts
the instructions a process executes, which does not depend on the load. It does NOT count
cache misses, branch mispredictions or memory stalls: code that executes fewer instructions but
touches more memory can still be slower. Use it beside bench/classify.py, not instead of it.

How: a child ``python`` runs this file with ``--child N`` under
``valgrind --tool=callgrind``. The child loads the classifier (``Classifier.load()``), the same
message mix as bench/classify.py (``corpus_split().holdout_texts`` + ``load_labelled()``, cycled),
warms up on the first 512 messages, then classifies N messages with ``classify_many`` in
batches of 1024. Start-up, imports, loading and warm-up are the same for every N, so they
cancel in the difference of two runs: instructions per message = (I(N2) − I(N1)) / (N2 − N1),
I = callgrind's ``totals:``/``summary:`` line. ``PYTHONHASHSEED=0`` fixes str hashing; address
layout still moves totals slightly (two runs of the same code: 216,334 and 217,389 instr/msg), so
differences under ~1 % mean nothing.

The child uses only APIs present in old checkouts too (``Classifier.load(use_content_review=)``,
``classify_many``, ``reachguard.protect.train.corpus_split``/``load_labelled``), so ``--old PATH``
(an exported tree with ``src`` and ``tests/data``) runs the same child with
``PYTHONPATH=PATH/src`` and the ratio new/old is printed. The child runs go in parallel
(``--jobs``); counts do not depend on it.

Paths: ``full`` = the full classifier (content review on: bench/classify.py's "FULL classifier:
classify_many + content review"); ``own`` = ``Classifier.load(use_content_review=False)``
("classify_many, own signals only").

Run: REACHGUARD_DATA_DIR=../shared/data .venv/bin/python bench/classify_instructions.py \
         [--old /tmp/old_ins] [--n1 1024] [--n2 5120] [--paths full,own] [--jobs 2]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one thread: set before numpy is imported

import argparse
import hashlib
import itertools
import json
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve()
REPO = HERE.parent.parent
BATCH = 1024
WARMUP = 512
_TOTAL = re.compile(r"^(?:summary|totals):\s+(\d+)", re.MULTILINE)


# --- the child (runs under valgrind, possibly against an old checkout) ------------------------


def child(n: int, path: str) -> None:
    """Load, warm up, classify ``n`` messages; print one JSON line saying what ran."""
    from reachguard.protect.classifier import Classifier
    from reachguard.protect.train import corpus_split, load_labelled

    pool = corpus_split().holdout_texts + [r["text"] for r in load_labelled()]
    clf = Classifier.load(use_content_review=(path == "full"))
    warm = list(itertools.islice(itertools.cycle(pool), WARMUP))
    texts = list(itertools.islice(itertools.cycle(pool), n))
    clf.classify_many(warm)
    digest = hashlib.sha256()
    for i in range(0, n, BATCH):
        for answer in clf.classify_many(texts[i : i + BATCH]):
            digest.update(answer.label.encode())
    import reachguard

    print(json.dumps({"n": n, "path": path, "pool": len(pool), "labels_sha256": digest.hexdigest()[:16],
                      "reachguard": reachguard.__file__}))


# --- the parent ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    tree: str  # "old" | "new"
    path: str  # "full" | "own"
    n: int
    instructions: int
    info: dict[str, object]


def run_child(tree: str, src: Path, path: str, n: int, workdir: Path) -> Run:
    """One callgrind run of the child; its total instruction count."""
    out = workdir / f"callgrind.{tree}.{path}.{n}.out"
    env = dict(os.environ, PYTHONPATH=str(src), PYTHONHASHSEED="0")
    data = env.get("REACHGUARD_DATA_DIR")
    if data:
        env["REACHGUARD_DATA_DIR"] = str(Path(data).resolve())  # the old tree resolves its own default
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
           sys.executable, str(HERE), "--child", str(n), "--child-path", path]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"child {tree}/{path}/{n} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    totals = _TOTAL.findall(out.read_text(encoding="utf-8", errors="replace"))
    if not totals:
        raise SystemExit(f"no totals/summary line in {out}")
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    if not str(info["reachguard"]).startswith(str(src)):
        raise SystemExit(f"child {tree} imported {info['reachguard']}, not from {src}")
    out.unlink()
    return Run(tree, path, n, int(totals[-1]), info)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--old", help="an exported old tree (src, tests/data): compare against it")
    parser.add_argument("--n1", type=int, default=1024)
    parser.add_argument("--n2", type=int, default=5120)
    parser.add_argument("--paths", default="full,own", help="comma list of: full, own")
    parser.add_argument("--jobs", type=int, default=2, help="callgrind children at once")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child-path", default="full", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.child_path)
        return

    sys.path.insert(0, str(HERE.parent))
    from _common import machine

    paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    if not set(paths) <= {"full", "own"} or not 0 < args.n1 < args.n2:
        parser.error("--paths must name full/own; need 0 < n1 < n2")
    trees = {"new": REPO / "src"}
    if args.old:
        trees = {"old": Path(args.old).resolve() / "src", **trees}
    print(f"machine: {machine()}")
    version = subprocess.run(["valgrind", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    print(f"{version} --tool=callgrind; N1={args.n1}, N2={args.n2} messages, batches of {BATCH}, "
          f"warm-up {WARMUP}; corpus held-out + labelled loan SMS; PYTHONHASHSEED=0")
    jobs = [(t, src, p, n) for p in paths for t, src in trees.items() for n in (args.n1, args.n2)]
    with tempfile.TemporaryDirectory(prefix="rg_callgrind_") as tmp, ThreadPoolExecutor(args.jobs) as pool:
        runs = list(pool.map(lambda j: run_child(*j, Path(tmp)), jobs))
    by = {(r.tree, r.path, r.n): r for r in runs}
    for r in runs:
        print(f"  {r.tree:<3} {r.path:<4} N={r.n:>6}: {r.instructions:>16,} instructions  {r.info}")
    print(f"  {'path':<38} " + " ".join(f"{t + ' instr/msg':>16}" for t in trees) + ("   new/old" if args.old else ""))
    names = {"full": "FULL classifier (classify_many + review)", "own": "classify_many, own signals only"}
    for p in paths:
        per = {t: (by[(t, p, args.n2)].instructions - by[(t, p, args.n1)].instructions) / (args.n2 - args.n1)
               for t in trees}
        ratio = f"   {per['new'] / per['old']:.3f}" if args.old else ""
        print(f"  {names[p]:<38} " + " ".join(f"{per[t]:>16,.0f}" for t in trees) + ratio)


if __name__ == "__main__":
    main()
