"""Mutation score per module from mutmut's results (``mutants/**/*.py.meta``), as a Markdown table.

Run from the folder mutmut ran in (``make mutation`` does), after ``mutmut run``::

    python benchmarks/mutation/summary.py [--survivors FILE]

The score is killed / (all mutants), where a timeout counts as killed (the mutant made the tests
hang) and a mutant that no selected test reaches counts as survived. ``--survivors`` writes one line
per surviving mutant with its changed line (the first line of ``mutmut show NAME``'s diff).
"""

from __future__ import annotations

import argparse
import json
import difflib
import sys
from collections import Counter
from pathlib import Path
from typing import Dict, List

# mutmut 3's exit codes (mutmut/stats.py): 1 and 3 killed, 0 survived, 5 and 33 no tests, 36 and signals timeout.
KILLED = {1, 3}
SURVIVED = {0}
NO_TESTS = {5, 33}
TIMEOUT = {36, 24, -24, 152, 255}


def module_results(root: Path):
    """{module: {mutant name: exit code}} from the .meta files under ``root/mutants``."""
    out = {}
    for meta in sorted((root / "mutants").rglob("*.py.meta")):
        module = meta.relative_to(root / "mutants").as_posix()[: -len(".py.meta")].replace("/", ".")
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        if codes:
            out[module] = codes
    return out


def _function_source(lines: List[str], def_name: str) -> List[str]:
    """The lines of ``def def_name(...)`` (at any indentation) up to the next line indented as little or less."""
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        if stripped.startswith(f"def {def_name}("):
            indent = len(line) - len(stripped)
            end = i + 1
            while end < len(lines) and (not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > indent
                                        or lines[end].lstrip().startswith(")")):  # the end of a long signature
                end += 1
            return [lines[i].strip()[len(f"def {def_name}"):]] + [line.strip() for line in lines[i + 1:end]]
    return []


def changed_line(root: Path, module: str, name: str, cache: Dict[str, List[str]]) -> str:
    """The first line of mutant ``name`` that differs from the original function (``mutmut show``'s first
    added line), read from mutmut's mutated copy of ``module`` without starting ``mutmut show``."""
    if module not in cache:
        cache[module] = (root / "mutants" / (module.replace(".", "/") + ".py")).read_text().splitlines()
    def_name = name[len(module) + 1:]
    mutant = _function_source(cache[module], def_name)
    original = _function_source(cache[module], def_name.rsplit("__mutmut_", 1)[0] + "__mutmut_orig")
    added = [line[2:] for line in difflib.ndiff(original, mutant) if line.startswith("+ ")]
    return added[0] if added else "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("."), help="the folder mutmut ran in")
    parser.add_argument("--survivors", type=Path, help="write the surviving mutants and their changed lines here")
    args = parser.parse_args()
    results = module_results(args.root)
    if not results:
        print(f"no mutmut results under {args.root / 'mutants'}: run 'mutmut run' first", file=sys.stderr)
        return 2
    print("| module | mutants | killed | timeout | survived | no tests | not run | score |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    survivors = []
    for module, codes in results.items():
        counts = Counter()
        for name, code in codes.items():
            kind = ("killed" if code in KILLED else "timeout" if code in TIMEOUT else "survived" if code in SURVIVED
                    else "no tests" if code in NO_TESTS else "not run" if code is None else "other")
            counts[kind] += 1
            if kind in ("survived", "no tests"):
                survivors.append((module, name, kind))
        total = sum(counts.values())
        score = 100.0 * (counts["killed"] + counts["timeout"]) / total
        print(f"| {module} | {total} | {counts['killed']} | {counts['timeout']} | {counts['survived']} | "
              f"{counts['no tests']} | {counts['not run']} | {score:.1f}% |")
    if args.survivors:
        cache: Dict[str, List[str]] = {}
        with open(args.survivors, "w") as f:
            for module, name, kind in survivors:
                f.write(f"{name}\t{kind}\t{changed_line(args.root, module, name, cache)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
