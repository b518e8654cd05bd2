"""Throughput of the full content review beside raw pyahocorasick matching, same run, same data.

Full review = normalisation + one automaton scan over a lexicon of at least 5,000 phrases
(the shipped packs plus synthetic phrases added as an org lexicon) + structural checks + SMS
length, on 70-character SMS. Raw = ``list(automaton.iter(text))`` over the same phrases and
the same messages, no normalisation. Prints the machine, the median of several repeats, and the
ratio.  Run on one core:

    .venv/bin/python bench/review.py [--messages 20000] [--repeats 7] [--phrases 5000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import ahocorasick

from reachguard.content import OrgLexicon, review
from reachguard.content.lexicon import matcher_for, shipped_packs

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine  # noqa: E402

_CJK = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严"
_SHIPPED_SAMPLES = [
    "【安心借】您尾号6621的借款本期应还1,280.00元，已逾期3天，请通过安心借App还款。逾期可能影响您的个人征信记录，请及时处理。",
    "【招联金融】您有一笔信用额度待激活，年化利率低至7.3%（单利），具体以审批结果为准，可在招联金融App申请，谨慎借贷。拒收请回复R",
]


def synthetic_phrases(n: int, seed: int = 7) -> list[str]:
    """n distinct 3-6 character CJK phrases (plausible size and alphabet for real lexicons)."""
    rng = random.Random(seed)
    out: set[str] = set()
    while len(out) < n:
        out.add("".join(rng.choice(_CJK) for _ in range(rng.randint(3, 6))))
    return sorted(out)


def messages(n: int, seed: int = 11) -> list[str]:
    """70-character SMS: a 【签名】, realistic-looking body text, an occasional real phrase."""
    rng = random.Random(seed)
    fillers = ["请", "您", "的", "借款", "额度", "还款", "App", "，", "。", "元", "逾期", "年化利率", "7.2%", "回T退订"]
    out = []
    for i in range(n):
        if i % 10 == 0:
            body = rng.choice(_SHIPPED_SAMPLES)
        else:
            parts = ["【测试金融】"]
            while sum(map(len, parts)) < 70:
                parts.append(rng.choice(fillers) if rng.random() < 0.5 else "".join(rng.choice(_CJK) for _ in range(3)))
            body = "".join(parts)
        while len(body) < 70:
            body += rng.choice(_CJK)
        out.append(body[:70])
    return out


def _time(fn, msgs: list[str]) -> tuple[float, float]:
    """Wall-clock and CPU seconds for ``fn`` over ``msgs``. CPU time leaves out the time this
    process waits for a core, which on a shared machine is most of the noise."""
    start, start_cpu = time.perf_counter(), time.process_time()
    for m in msgs:
        fn(m)
    return time.perf_counter() - start, time.process_time() - start_cpu


def _loadavg() -> str:
    try:
        with open("/proc/loadavg", encoding="utf-8") as fh:
            return " ".join(fh.read().split()[:3])
    except OSError:
        return "unknown"


def _report(label: str, n: int, review_runs: list[float], raw_runs: list[float]) -> None:
    t_review, t_raw = statistics.median(review_runs), statistics.median(raw_runs)
    ratios = sorted(a / b for a, b in zip(review_runs, raw_runs))
    print(f"{label}")
    print(f"  full review : {n / t_review:>10,.0f} msgs/s  ({t_review / n * 1e6:.2f} µs/msg; "
          f"best repeat {n / min(review_runs):,.0f})")
    print(f"  raw matching: {n / t_raw:>10,.0f} msgs/s  ({t_raw / n * 1e6:.2f} µs/msg; "
          f"best repeat {n / min(raw_runs):,.0f})")
    print(f"  ratio (review time / raw time): {t_review / t_raw:.2f}x "
          f"(per repeat: min {ratios[0]:.2f}x, median {statistics.median(ratios):.2f}x, max {ratios[-1]:.2f}x)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--phrases", type=int, default=5_000, help="minimum lexicon size")
    args = parser.parse_args()

    shipped = [p for pack in shipped_packs() for p in pack.phrases + pack.allow]
    # A few synthetic phrases fold onto each other or onto shipped ones: add 1% headroom so the
    # compiled lexicon really holds at least --phrases distinct entries.
    extra = synthetic_phrases(max(0, args.phrases - len(shipped)) * 101 // 100)
    org = OrgLexicon.of(phrases={"INSULT": extra})
    matcher = matcher_for(org)  # compiled once, as in production

    raw = ahocorasick.Automaton()
    for i, phrase in enumerate(shipped + extra):
        raw.add_word(phrase, i)
    raw.make_automaton()

    msgs = messages(args.messages)
    assert all(len(m) == 70 for m in msgs)

    def full(text: str) -> object:
        return review(text, "marketing", "prospect", "sms", org)

    def raw_match(text: str) -> object:
        return list(raw.iter(text))

    full(msgs[0]), raw_match(msgs[0])  # warm caches (translate tables, regexes)
    load_before = _loadavg()
    # Interleave the two in chunks so both see the same machine load (other processes).
    chunks = [msgs[i : i + 1000] for i in range(0, len(msgs), 1000)]
    wall: dict[str, list[float]] = {"review": [], "raw": []}
    cpu: dict[str, list[float]] = {"review": [], "raw": []}
    for _ in range(args.repeats):
        totals = {"review": [0.0, 0.0], "raw": [0.0, 0.0]}
        for chunk in chunks:
            for name, fn in (("review", full), ("raw", raw_match)):
                w, c = _time(fn, chunk)
                totals[name][0] += w
                totals[name][1] += c
        for name, (w, c) in totals.items():
            wall[name].append(w)
            cpu[name].append(c)

    print(f"machine: {machine()} (single thread)")
    print(f"load average (1, 5, 15 min): {load_before} before, {_loadavg()} after")
    print(f"lexicon: {matcher.size} normalised phrases ({len(shipped)} shipped + {len(extra)} synthetic); "
          f"{len(msgs)} SMS of 70 chars; median of {args.repeats} repeats")
    _report("wall clock:", len(msgs), wall["review"], wall["raw"])
    _report("CPU time (process_time; leaves out waiting for a core):", len(msgs), cpu["review"], cpu["raw"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
