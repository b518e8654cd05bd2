"""Every answer of the SMS classifier on the whole corpus and our labelled loan SMS, as one digest.

Why: a speed change to the classifier must not change any answer. This dumps, for every row of
``cn_sms_spam/train.tsv`` (all 91,772, not only the held-out split), every message of
``tests/data/loan_sms_labelled.jsonl`` and a few tricky texts (lone surrogates, full-width links,
Traditional evasions), the full answer of ``classify_many`` — label, scores at full precision,
every signal with weight, evidence and source — with and without the content review, as
sorted-key JSON lines, and prints their sha256. Run it once against the old code
(``PYTHONPATH=<old>/src``) and once against the new one: equal digests (or ``cmp`` of the two
``--out`` files) mean byte-identical answers. The input files are read by explicit path, so an
exported old tree without ``tests/`` reads the same messages.

Run: .venv/bin/python bench/classify_answers.py [--data-dir DIR] [--labelled FILE] [--out FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from pathlib import Path

from reachguard.protect.classifier import Classifier

REPO = Path(__file__).resolve().parent.parent
TRICKY = [
    "", " ", "a\ud800b", "😀" * 30, "放款前先交保证金\udc00 加微信dk888",
    "a\ud800b http://t.cn/abc", "\U0002a6a5贷款前先交保证金",
    "【安心借】放款前先交保证金 http://t.cn/abc 加微信dk888",
    "您好，黑 户 可 代 款！秒ｐｉ，無視徵信，否則後果自負。",
    "法院传票：你已涉嫌诈骗，请将资金转入安全账户 1.2.3.4:8080/a",
    "老赖，不还就上门找你，通知你的家人。你朋友欠款不还",
    "ＨＴＴＰ：／／ｔ．ｃｎ／ａ 点击 bit.ly/3xYz 领取额度",
    "验证码 123456，请勿告诉他人；把验证码发给客服",
    "Σ ΣΑΣ 【签名】 尾号1234 余额 ¥12.50  退订回T",
]


def messages(data_dir: Path, labelled: Path) -> list[str]:
    """Corpus rows (header skipped, order kept), then the labelled set, then the tricky texts."""
    texts: list[str] = []
    raw = (data_dir / "cn_sms_spam" / "train.tsv").read_bytes().decode("utf-8")
    for n, line in enumerate(raw.splitlines()):
        if n and line:
            texts.append(line.partition("\t")[2])
    for line in labelled.read_text(encoding="utf-8").splitlines():
        if line.strip():
            texts.append(json.loads(line)["text"])
    return texts + TRICKY


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default_data = os.environ.get("REACHGUARD_DATA_DIR") or str(REPO.parent / "shared" / "data")
    parser.add_argument("--data-dir", default=default_data)
    parser.add_argument("--labelled", default=str(REPO / "tests" / "data" / "loan_sms_labelled.jsonl"))
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--out", help="also write the JSON lines here (to cmp two runs)")
    args = parser.parse_args()

    texts = messages(Path(args.data_dir), Path(args.labelled))
    digest = hashlib.sha256()
    out = open(args.out, "w", encoding="utf-8", errors="surrogatepass") if args.out else None
    counts = {"answers": 0, "content signals": 0, "own signals": 0}
    try:
        for mode, clf in (("full", Classifier.load()), ("own", Classifier.load(use_content_review=False))):
            for i in range(0, len(texts), args.batch):
                for j, r in enumerate(clf.classify_many(texts[i : i + args.batch]), start=i):
                    line = json.dumps({"i": j, "mode": mode, **r.to_dict()}, ensure_ascii=True, sort_keys=True)
                    digest.update(line.encode("ascii") + b"\n")
                    if out is not None:
                        out.write(line + "\n")
                    counts["answers"] += 1
                    for s in r.signals:
                        key = "content signals" if s.source == "content" else "own signals"
                        counts[key] += s.source != "model"
    finally:
        if out is not None:
            out.close()
    print(f"messages: {len(texts)} ({len(TRICKY)} tricky), modes: full + own signals only")
    print(", ".join(f"{k}: {v}" for k, v in counts.items()))
    print(f"sha256: {digest.hexdigest()}")


if __name__ == "__main__":
    main()
