"""The demo stands apart: its words in the phrasebook, its knowledge from the database."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHINESE = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
PRODUCT = ("bot", "handlers", "models", "config")


def strings_outside_docstrings(tree: ast.Module) -> list[str]:
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def imported_modules(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_only_the_phrasebook_holds_chinese() -> None:
    modules = sorted((ROOT / "demo").glob("*.py"))
    assert len(modules) > 5
    found = {
        path.name: [s for s in strings_outside_docstrings(parsed(path)) if CHINESE.search(s)]
        for path in modules
    }
    assert found.pop("phrasebook.py")  # the phrasebook has them all
    assert {name: words for name, words in found.items() if words} == {}


def test_the_season_never_reads_the_bots_sentences() -> None:
    # What the bot did comes from the database (demo/witness.py), not from matching its replies
    # against handlers/texts.py; only the CLI prints the report's own lines from there.
    for path in sorted((ROOT / "demo").glob("*.py")):
        imports = imported_modules(parsed(path))
        if path.name != "cli.py":
            assert not {"handlers", "handlers.texts"} & imports, path.name
        if path.name != "phrasebook.py":  # which spells a voice note's punctuation
            assert "re" not in imports, path.name


def test_the_product_packages_do_not_import_the_demo() -> None:
    importers = []
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            names = imported_modules(parsed(path))
            if any(name == "demo" or name.startswith("demo.") for name in names):
                importers.append(str(path.relative_to(ROOT)))
    assert importers == ["bot/cli.py"]  # where `grievance-bot demo …` is registered
