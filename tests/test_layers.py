"""The rooms of the tree keep to their jobs, read from the source with `ast`.

- Settings are read once, in bot/ (`create_app`, the worker, the CLI), and travel from there:
  nothing in models/, handlers/, config/, web/ or demo/ calls or imports `get_settings`.
- Every Chinese word a person reads sits in the texts module of its surface, and every word the
  bot reads in handlers/words.py or handlers/lexicon.py: no Chinese string literal elsewhere in
  bot/, handlers/, models/, web/ or demo/ (config/ and the migrations may hold Chinese; docstrings
  and comments are not literals).
- No module-level cache in models/, handlers/ or config/ (a cached loader keyed by a path keeps
  the first file it read for the life of the process), `get_settings` excepted.
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Chinese characters (with radicals and the supplementary planes), Chinese punctuation
# (“。”, “【】”, the ideographic space) and full-width forms (“，”, “：”, “｜”).
CJK = re.compile(
    "[\u2e80-\u2fdf\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\ufe30-\ufe4f"
    "\uff00-\uffef\U00020000-\U0003134f]"
)

# The places Chinese may be written in the product packages.
WORD_MODULES = frozenset(
    {
        "handlers/texts.py",  # what the chat says
        "bot/texts.py",  # what the command line and the logs say
        "models/texts.py",  # shared names (states, roles) and sheet headings
        "web/texts.py",  # what the web pages say
        "demo/phrasebook.py",  # what the demo town's people say
        "handlers/words.py",  # what the bot reads: command verbs, yes and no
        "handlers/lexicon.py",  # what the parser reads besides config/taxonomy.toml
    }
)
WORD_FOLDERS = ("models/migrations/",)  # a migration keeps the words of its day

# ---------------------------------------------------------------------------------------------
# Characters the code recognises in what people type or in cells, not words anyone reads: the
# full-width solidus a place path may be typed with, and the full-width characters that start a
# formula in a spreadsheet. Each is written as an escape in its file.
SYNTAX_LITERALS = frozenset(
    {
        ("bot/cli_report.py", "\uff0f"),
        ("models/sheets.py", "=+-@\t\r\uff1d\uff0b\uff0d\uff20"),
    }
)
# ---------------------------------------------------------------------------------------------

# The one cache allowed: the process's settings, read once at the top (bot/) and passed down.
ALLOWED_CACHES = frozenset({("config/settings.py", "get_settings")})
# Where `get_settings` may appear outside bot/: where it is defined, the package re-exporting
# it, and the demo's command line (an entry point like bot/cli.py, reading the process's settings
# once at the top and passing them down).
GET_SETTINGS_HOMES = frozenset({"config/settings.py", "config/__init__.py", "demo/cli.py"})


def _sources(*folders: str) -> Iterator[tuple[str, ast.Module]]:
    """(path relative to the project, parsed module) for every .py file under the folders."""
    for folder in folders:
        base = ROOT / folder
        if not base.is_dir():
            continue  # web/ and demo/ exist once their issue is built
        for path in sorted(base.rglob("*.py")):
            yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def _docstrings(tree: ast.Module) -> set[int]:
    """ids of the string constants that are docstrings (first statement of a module, class, def)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                found.add(id(first.value))
    return found


def chinese_literals(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, text) of every string constant holding Chinese, docstrings left out.

    The pieces of an f-string are constants of their own, so `f"{n}月"` counts.
    """
    docstrings = _docstrings(tree)
    return sorted(
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and CJK.search(node.value)
    )


def _word_module(path: str) -> bool:
    return path in WORD_MODULES or path.startswith(WORD_FOLDERS)


def _literals_by_file() -> dict[str, list[tuple[int, str]]]:
    found: dict[str, list[tuple[int, str]]] = {}
    for path, tree in _sources("bot", "handlers", "models", "web", "demo"):
        if _word_module(path):
            continue
        literals = [(n, t) for n, t in chinese_literals(tree) if (path, t) not in SYNTAX_LITERALS]
        if literals:
            found[path] = literals
    return found


def _show(path: str, line: int, text: str) -> str:
    shown = text if len(text) <= 60 else text[:59] + "…"
    return f"{path}:{line}: {shown!r}"


def get_settings_uses(tree: ast.Module) -> list[int]:
    """Lines importing, calling or naming `get_settings`."""
    lines: list[int] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom | ast.Import):
            if any(alias.name.split(".")[-1] == "get_settings" for alias in node.names):
                lines.append(node.lineno)
        elif (isinstance(node, ast.Name) and node.id == "get_settings") or (
            isinstance(node, ast.Attribute) and node.attr == "get_settings"
        ):
            lines.append(node.lineno)
    return sorted(set(lines))


def _functools_names(tree: ast.Module) -> tuple[set[str], set[str]]:
    """Local names of functools.lru_cache/cache, and of the functools module itself."""
    caches: set[str] = set()
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "functools":
            for alias in node.names:
                if alias.name in ("lru_cache", "cache"):
                    caches.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "functools":
                    modules.add(alias.asname or alias.name)
    return caches, modules


def module_caches(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, function) of functools caches on module functions, class methods or assignments."""
    caches, modules = _functools_names(tree)

    def is_cache(node: ast.expr) -> bool:
        if isinstance(node, ast.Call):  # lru_cache(maxsize=…)
            return is_cache(node.func)
        if isinstance(node, ast.Name):
            return node.id in caches
        return (
            isinstance(node, ast.Attribute)
            and node.attr in ("lru_cache", "cache")
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
        )

    found: list[tuple[int, str]] = []
    scopes: list[ast.stmt] = list(tree.body)
    for statement in tree.body:
        if isinstance(statement, ast.ClassDef):
            scopes.extend(statement.body)
    for statement in scopes:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            if any(is_cache(decorator) for decorator in statement.decorator_list):
                found.append((statement.lineno, statement.name))
        elif isinstance(statement, ast.Assign | ast.AnnAssign) and statement.value is not None:
            # loader = lru_cache(maxsize=8)(load) or loader = cache(load)
            value = statement.value
            if isinstance(value, ast.Call) and is_cache(value.func):
                target = (
                    statement.targets[0] if isinstance(statement, ast.Assign) else statement.target
                )
                found.append((statement.lineno, ast.unparse(target)))
    return sorted(found)


# ------------------------------------------------------------------------------ the rules


def test_no_get_settings_below_bot() -> None:
    offenders = [
        f"{path}:{line}"
        for path, tree in _sources("models", "handlers", "config", "web", "demo")
        if path not in GET_SETTINGS_HOMES
        for line in get_settings_uses(tree)
    ]
    assert not offenders, (
        "settings reach models/handlers/config through the context, built once in bot/; "
        "get_settings used at:\n" + "\n".join(offenders)
    )


def test_no_chinese_literals_outside_the_word_modules() -> None:
    found = _literals_by_file()
    offenders = [
        _show(path, line, text)
        for path, literals in sorted(found.items())
        for line, text in literals
    ]
    assert not offenders, (
        "Chinese belongs in a texts module ("
        + ", ".join(sorted(WORD_MODULES))
        + "):\n"
        + "\n".join(offenders)
    )


def test_no_module_level_caches() -> None:
    offenders: list[str] = []
    for path, tree in _sources("models", "handlers", "config"):
        for line, name in module_caches(tree):
            if (path, name) not in ALLOWED_CACHES:
                offenders.append(f"{path}:{line}: {name}")
    assert not offenders, (
        "a module-level cache outlives the app that built it (build once in create_app or the "
        "worker and pass it through the context):\n" + "\n".join(offenders)
    )


def test_allowed_settings_cache_is_still_there() -> None:
    # If get_settings stops being cached, or moves, ALLOWED_CACHES names something gone.
    found = {
        (path, name) for path, tree in _sources("config") for _line, name in module_caches(tree)
    }
    assert found >= ALLOWED_CACHES


# ------------------------------------------------------------------------------ the readers


def _tree(source: str) -> ast.Module:
    return ast.parse(textwrap.dedent(source))


def test_chinese_literals_finds_strings_and_f_string_parts_but_not_docstrings() -> None:
    tree = _tree(
        '''
        """模块说明。"""
        # 注释
        NAME = "签收"
        SEPARATOR = "｜"
        ENGLISH = "accept"


        class Ticket:
            """工单。"""

            note = "备注"


        def when(month: int) -> str:
            """几月。"""
            return f"{month}月"
        '''
    )
    assert chinese_literals(tree) == [(4, "签收"), (5, "｜"), (12, "备注"), (17, "月")]


def test_get_settings_uses_finds_imports_calls_and_attributes() -> None:
    tree = _tree(
        """
        from config.settings import get_settings
        import config.settings
        settings = get_settings()
        other = config.settings.get_settings()
        fine = "get_settings"
        """
    )
    assert get_settings_uses(tree) == [2, 4, 5]


def test_module_caches_finds_decorators_and_wrapped_loaders() -> None:
    tree = _tree(
        """
        import functools
        from functools import lru_cache as remember, partial


        @remember(maxsize=8)
        def load(path): ...


        @functools.cache
        def parse(path): ...


        class Loader:
            @functools.lru_cache
            def read(self, path): ...


        loader = functools.lru_cache(maxsize=2)(load)
        shortcut = partial(load)


        def outer():
            @remember
            def inner(): ...
        """
    )
    assert module_caches(tree) == [(7, "load"), (11, "parse"), (16, "read"), (19, "loader")]
