"""Summarise a py-spy ``--format raw`` (collapsed stacks) profile: self time by package and by function, and
inclusive time of the functions that matter, in % of the samples.

    py-spy record --format raw -o bench/results/launch.txt --subprocesses --pid <gunicorn master> --duration 20
    .venv/bin/python bench/pyspy_summary.py bench/results/launch.txt [--within wsgi_app] [--top 40]

py-spy is not a dependency of the project: install it in a separate virtualenv (see bench/README.md).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


@dataclass
class Profile:
    samples: int = 0
    self_by_function: Counter[str] = field(default_factory=Counter)
    self_by_package: Counter[str] = field(default_factory=Counter)
    inclusive: Counter[str] = field(default_factory=Counter)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("profile", type=Path, help="py-spy raw output")
    parser.add_argument("--within", default="", help="only stacks through a frame containing this text")
    parser.add_argument("--top", type=int, default=40)
    return parser.parse_args(argv)


def _frame_name(frame: str) -> tuple[str, str]:
    """("function (file)", package) of one py-spy frame, line numbers dropped."""
    match = FRAME.match(frame)
    if not match:
        return frame, frame
    path = match.group("file")
    top = path.split("/")[0].removesuffix(".py")
    package = path.rsplit(".", 1)[0].replace("/", ".") if top == "lti_tool" else top
    return f"{match.group('function')} ({path})", package


def load(path: Path, within: str) -> Profile:
    profile = Profile()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue  # a frame's name with a line break in it (a proxy's repr) splits its sample over lines
        frames = [frame for frame in stack.split(";") if frame and not frame.startswith("process ")]
        if not frames or (within and not any(within in frame for frame in frames)):
            continue
        samples = int(count)
        profile.samples += samples
        names = [_frame_name(frame) for frame in frames]
        profile.self_by_function[names[-1][0]] += samples
        profile.self_by_package[names[-1][1]] += samples
        for name in {name for name, _ in names}:
            profile.inclusive[name] += samples
    return profile


def print_counter(title: str, counter: Counter[str], total: int, top: int) -> None:
    print(f"\n{title}")
    for name, samples in counter.most_common(top):
        print(f"  {samples / total * 100:5.1f}%  {name}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    profile = load(args.profile, args.within)
    if not profile.samples:
        print("no samples matched", file=sys.stderr)
        return 1
    print(f"{profile.samples} samples" + (f" through {args.within!r}" if args.within else ""))
    print_counter("Self time by package / module:", profile.self_by_package, profile.samples, 25)
    print_counter("Self time by function:", profile.self_by_function, profile.samples, args.top)
    print_counter("Inclusive time:", profile.inclusive, profile.samples, args.top * 2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
