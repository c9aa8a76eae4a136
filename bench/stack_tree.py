"""Where one handler's time goes, from py-spy's raw (collapsed) stacks.

    python bench/stack_tree.py PROFILE FRAME [--min-pct 2] [--depth 8]

PROFILE is what `bench/event_cpu.py --profile PROFILE` (py-spy `--format raw`) wrote; FRAME a
substring of the frame to attribute, e.g. "CustomerNamespace.on_ask " or
"ExpertNamespace.on_accept ". Prints the samples under that frame as a tree of callees with their
inclusive share (line numbers dropped, so one function is one node), down to `--min-pct`.
"""
from __future__ import annotations

import argparse
import re
from typing import Any


def short(frame: str) -> str:
    m = re.match(r"(.*) \((.*)\)", frame)
    if not m:
        return frame
    name, where = m.groups()
    where = re.sub(r":\d+$", "", re.sub(r".*site-packages/", "", where))
    return f"{name} ({where})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("profile")
    ap.add_argument("frame")
    ap.add_argument("--min-pct", type=float, default=2.0)
    ap.add_argument("--depth", type=int, default=8)
    args = ap.parse_args()
    tree: dict[str, Any] = {}
    total = everything = 0
    with open(args.profile) as f:
        for line in f:
            if not line.strip():
                continue
            stack, n = line.rstrip().rsplit(" ", 1)
            everything += int(n)
            frames = stack.split(";")
            at = next((i for i, fr in enumerate(frames) if args.frame in fr), None)
            if at is None:
                continue
            total += int(n)
            node = tree
            for fr in frames[at + 1:at + 1 + args.depth]:
                entry = node.setdefault(short(fr), [0, {}])
                entry[0] += int(n)
                node = entry[1]
    print(f"{args.frame.strip()}: {total} of {everything} samples")

    def show(node: dict[str, Any], depth: int) -> None:
        for name, (n, children) in sorted(node.items(), key=lambda kv: -kv[1][0]):
            if total and 100 * n / total >= args.min_pct:
                print(f"{'  ' * depth}{100 * n / total:5.1f}% {name}")
                show(children, depth + 1)

    show(tree, 0)


if __name__ == "__main__":
    main()
