"""Scores Samen's name detector and deduce on the labelled evaluation set, side by side.

Usage: compare.py eval.jsonl samen-predictions.jsonl
A gold name counts as found when a predicted span overlaps it; a predicted span is right
when it overlaps a gold name. Precision per case is over the predictions in the sentences
that hold a name of that case; the sentences without names give the false alarms.
"""
import json
import re
import sys
from collections import defaultdict


def gold_spans(item):
    """Every occurrence of every gold name as a whole word (`an` is no name in `vandaag`)."""
    spans = []
    for name in item["names"]:
        for m in re.finditer(r"(?<!\w)" + re.escape(name["span"]) + r"(?!\w)", item["text"]):
            spans.append((m.start(), m.end(), name["case"]))
    return spans


def deduce_predictions(items):
    from deduce import Deduce

    deduce = Deduce()
    found = {}
    for item in items:
        doc = deduce.deidentify(item["text"])
        found[item["id"]] = [
            (a.start_char, a.end_char)
            for a in doc.annotations
            if a.tag in ("persoon", "patient") or "naam" in a.tag
        ]
    return found


def overlaps(a, b):
    return a[0] < b[1] and b[0] < a[1]


def score(items, predictions):
    found = defaultdict(int)
    total = defaultdict(int)
    right = defaultdict(int)
    predicted = defaultdict(int)
    false_alarms = []
    for item in items:
        gold = gold_spans(item)
        preds = predictions.get(item["id"], [])
        cases = {case for _, _, case in gold} or {"(geen namen)"}
        for start, end, case in gold:
            total[case] += 1
            total["all"] += 1
            if any(overlaps((start, end), p) for p in preds):
                found[case] += 1
                found["all"] += 1
        for p in preds:
            ok = any(overlaps(p, (s, e)) for s, e, _ in gold)
            for case in cases | {"all"}:
                predicted[case] += 1
                right[case] += ok
            if not ok:
                false_alarms.append((item["id"], item["text"][p[0]:p[1]]))
    return found, total, right, predicted, false_alarms


def ratio(a, b):
    return a / b if b else float("nan")


def main():
    items = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
    samen = {}
    for line in open(sys.argv[2], encoding="utf-8"):
        p = json.loads(line)
        samen[p["id"]] = [(s, e) for s, e, _ in p["spans"]]
    systems = {"samen": score(items, samen), "deduce": score(items, deduce_predictions(items))}
    names = sum(1 for i in items if i["names"])
    print(f"{len(items)} sentences, {names} with names, {len(items) - names} without")
    cases = sorted({c for i in items for c in (n["case"] for n in i["names"])}) + ["(geen namen)", "all"]
    print(f"{'case':<24}{'names':>6}  {'samen P':>8}{'samen R':>8}  {'deduce P':>9}{'deduce R':>9}")
    for case in cases:
        row = f"{case:<24}{systems['samen'][1][case]:>6}  "
        for name, width in (("samen", 8), ("deduce", 9)):
            found, total, right, predicted, _ = systems[name]
            p = ratio(right[case], predicted[case])
            r = ratio(found[case], total[case])
            if case == "(geen namen)":
                row += f"{predicted[case]:>{width * 2 - 7}} alarms"
            else:
                row += f"{p:>{width}.3f}{r:>{width}.3f}"
            row += "  " if name == "samen" else ""
        print(row)
    for name in systems:
        alarms = systems[name][4]
        print(f"\n{name}: {len(alarms)} false alarms" + (": " if alarms else ""))
        for id_, text in alarms[:40]:
            print(f"  {id_}: {text}")
        missed = [
            (i["id"], i["text"][s:e], c)
            for i in items
            for s, e, c in gold_spans(i)
            if name == "samen"
            and not any(overlaps((s, e), p) for p in samen.get(i["id"], []))
        ]
        if missed:
            print(f"samen missed {len(missed)}:")
            for id_, text, case in missed[:60]:
                print(f"  {id_}: {text} ({case})")


if __name__ == "__main__":
    main()
