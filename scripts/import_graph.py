"""Print who imports whom among the project's packages, and the largest modules.

    python scripts/import_graph.py            # package edges, then module sizes
    python scripts/import_graph.py --modules  # every module-to-module edge as well

Reads the source with `ast`, so nothing is imported or run.
"""

from __future__ import annotations

import argparse
import ast
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("config", "models", "handlers", "bot", "web", "demo")


def modules() -> dict[str, Path]:
    """Dotted module name → file, for every module of the project's packages."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        base = ROOT / package
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*.py")):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports_of(path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules a file imports (at any depth of the file)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name in known}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", action="store_true", help="print module edges too")
    parser.add_argument("--top", type=int, default=12, help="how many of the largest modules")
    args = parser.parse_args()
    known = modules()
    edges = {name: imports_of(path, known) - {name} for name, path in known.items()}
    packages: dict[str, Counter[str]] = defaultdict(Counter)
    for source, targets in edges.items():
        for target in targets:
            src, dst = source.split(".")[0], target.split(".")[0]
            if src != dst:
                packages[src][dst] += 1
    print("package imports (number of module-to-module edges):")
    for src in PACKAGES:
        if src in packages:
            row = ", ".join(f"{dst} {n}" for dst, n in sorted(packages[src].items()))
            print(f"  {src:9} → {row}")
    if args.modules:
        print("\nmodule imports:")
        for source in sorted(edges):
            if edges[source]:
                print(f"  {source} → {', '.join(sorted(edges[source]))}")
    lines_of = {
        name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in known.items()
    }
    sizes = sorted(((lines, name) for name, lines in lines_of.items()), reverse=True)
    print("\nlargest modules (lines):")
    for lines, name in sizes[: args.top]:
        print(f"  {lines:6}  {name}")


if __name__ == "__main__":
    main()
