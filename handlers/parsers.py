"""The app's grievance parser, built once per app and rebuilt only when the villages change."""

from __future__ import annotations

import threading

from sqlmodel import Session

from config.taxonomy import Taxonomy
from handlers.parser import GrievanceParser, SecondOpinion
from models.actions import village_names


class ParserCache:
    """One parser for one app (bot/app.py create_app, the worker, the CLI), held in its Context.

    Each parser holds jieba's dictionary (about 70 MB), so when the roster's villages change the
    old one is dropped rather than kept beside the new one. The key is the village list and the
    taxonomy (by content): apps that share a cache (tests do) share a parser only where the same
    villages and categories make it the same parser.
    """

    def __init__(self, second_opinion: SecondOpinion | None = None) -> None:
        """`second_opinion`: the model `grievance-bot learn` made, when it beat the rules."""
        self.second_opinion = second_opinion
        self._lock = threading.Lock()
        self._key: tuple[tuple[str, ...], Taxonomy] | None = None
        self._parser: GrievanceParser | None = None

    def parser(self, session: Session, taxonomy: Taxonomy) -> GrievanceParser:
        """The parser for the roster's villages now and this taxonomy."""
        key = (village_names(session), taxonomy)
        with self._lock:
            if self._parser is None or self._key is None or not self._same(key):
                self._parser = GrievanceParser(taxonomy, key[0], second_opinion=self.second_opinion)
                self._key = key
            return self._parser

    def _same(self, key: tuple[tuple[str, ...], Taxonomy]) -> bool:
        assert self._key is not None
        taxonomy = self._key[1]
        return self._key[0] == key[0] and (taxonomy is key[1] or taxonomy == key[1])

    def warm_up(self, session: Session, taxonomy: Taxonomy) -> None:
        """Build the parser before the first message arrives (jieba takes about half a second)."""
        if village_names(session):
            self.parser(session, taxonomy)
