"""`grievance-bot learn`: the category classifier learned from the town's tickets and 台账."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import click
from openpyxl import load_workbook
from sqlmodel import Session

from bot import texts
from bot.cli_parse import roster_villages
from bot.cli_support import open_database
from config.settings import get_settings, require_extra
from config.taxonomy import CATEGORY_CODES, Taxonomy, load_taxonomy
from handlers import lexicon
from handlers.classifier import MODEL_FILE, NotEnoughExamples, train
from handlers.parser import GrievanceParser
from models.labels import LEDGER, LabelledExample, labelled_tickets

HEADING_ROWS = 10  # a heading row is looked for among a sheet's first rows (titles come above)


def category_code(value: Any, taxonomy: Taxonomy) -> str | None:
    """A ledger's category cell as a code: the code itself, the name, or a name it is part of."""
    if value is None:
        return None
    word = str(value).strip()
    if not word:
        return None
    if word in CATEGORY_CODES:
        return word
    for category in taxonomy.categories:
        if word == category.name:
            return category.code
    for category in taxonomy.categories:
        if word in category.name or category.name in word:
            return category.code
    return None


def _heading(row: Iterable[Any], headings: tuple[str, ...]) -> int | None:
    """The column of the first of `headings` (in their order of preference) in a row."""
    cells = [str(cell).strip() if cell is not None else "" for cell in row]
    for heading in headings:
        if heading in cells:
            return cells.index(heading)
    return None


def ledger_rows(path: Path) -> Iterator[tuple[Any, Any]]:
    """(text, category) cells of the first sheet with both columns; ValueError when none has."""
    book = load_workbook(path, read_only=True, data_only=True)
    try:
        for sheet in book.worksheets:
            rows = sheet.iter_rows(values_only=True)
            for _, row in zip(range(HEADING_ROWS), rows, strict=False):
                text_col = _heading(row, lexicon.LEDGER_TEXT_HEADINGS)
                category_col = _heading(row, lexicon.LEDGER_CATEGORY_HEADINGS)
                if text_col is None or category_col is None:
                    continue
                for cells in rows:
                    if len(cells) > max(text_col, category_col):
                        yield cells[text_col], cells[category_col]
                return
    finally:
        book.close()
    raise ValueError(path.name)


def ledger_examples(path: Path, taxonomy: Taxonomy) -> tuple[list[LabelledExample], int]:
    """The labelled examples of a past 台账, and how many of its rows were read."""
    examples = []
    rows = 0
    for text, category in ledger_rows(path):
        rows += 1
        code = category_code(category, taxonomy)
        if code is not None and text is not None and str(text).strip():
            examples.append(LabelledExample(str(text).strip(), code, LEDGER))
    return examples, rows


@click.command(help=texts.LEARN_HELP)
@click.option(
    "--from-ledger",
    "ledgers",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=texts.LEARN_LEDGER_HELP,
)
@click.option("--with-resolved", is_flag=True, help=texts.LEARN_RESOLVED_HELP)
def learn(ledgers: tuple[Path, ...], with_resolved: bool) -> None:
    """Train the classifier on the labelled tickets and ledgers; save it with its figures."""
    require_extra("sklearn", "learn", "grievance-bot learn")
    settings = get_settings()
    taxonomy = load_taxonomy(settings.taxonomy_file)
    examples: list[LabelledExample] = []
    for ledger in ledgers:
        try:
            found, rows = ledger_examples(ledger, taxonomy)
        except ValueError:
            raise click.ClickException(
                texts.LEARN_LEDGER_NO_COLUMNS.format(
                    file=ledger.name,
                    text="/".join(lexicon.LEDGER_TEXT_HEADINGS[:3]),
                    category="/".join(lexicon.LEDGER_CATEGORY_HEADINGS[:3]),
                )
            ) from None
        click.echo(
            texts.LEARN_LEDGER_READ.format(
                file=ledger.name, rows=rows, used=len(found), skipped=rows - len(found)
            )
        )
        examples.extend(found)
    with open_database(settings) as engine, Session(engine) as session:
        examples.extend(labelled_tickets(session, taxonomy, include_resolved=with_resolved))
    counts: dict[str, int] = {}
    for example in examples:
        counts[example.source] = counts.get(example.source, 0) + 1
    names = texts.LEARN_SOURCE_JOINER.join(
        f"{texts.LEARN_SOURCE_NAMES.get(source, source)} {count}"
        for source, count in counts.items()
    )
    click.echo(texts.LEARN_SOURCES.format(total=len(examples), sources=names or "0"))
    parser = GrievanceParser(taxonomy, roster_villages())
    try:
        model = train(examples, parser=parser)
    except NotEnoughExamples as exc:
        raise click.ClickException(texts.LEARN_TOO_FEW.format(reason=exc)) from None
    path = settings.instance_path / MODEL_FILE
    model.save(path)
    click.echo(texts.LEARN_MEASURED.format(model=model.cv_accuracy, rules=model.rules_accuracy))
    if model.unsure_rows:
        click.echo(
            texts.LEARN_MEASURED_UNSURE.format(
                rows=model.unsure_rows,
                model=model.unsure_cv_accuracy,
                rules=model.unsure_rules_accuracy,
            )
        )
    click.echo((texts.LEARN_USED if model.beats_rules else texts.LEARN_NOT_USED).format(path=path))
