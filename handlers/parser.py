"""Rule-based parser turning a neighbour head's WeChat message into grievance fields.

Pure and deterministic: no database, no network. Everything heavy (the jieba dictionary, the
keyword tables, the regular expressions) is built in ``GrievanceParser.__init__`` so that the
first ``parse`` is as fast as the rest. The labelling rules it follows are those of
``shared/eval/README.md``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cn2an
import jieba

from config.taxonomy import Taxonomy, load_taxonomy
from handlers import lexicon

# Long pastes (forwarded articles) carry nothing the first screenful does not; capping keeps the
# per-message cost bounded.
MAX_CHARS = 600
SUMMARY_CHARS = 30
# A meeting or form mentioned alongside a clear topic word ("开会说的停电还没来") is still a
# grievance; with only weak topic words it is internal logistics.
LOGISTICS_OVERRIDE = 2.0
# A score worth one strong word (taxonomy.toml's default "strong" weight) is a confident call.
CONFIDENT_SCORE = 3.0
MAX_GROUP = 20  # the README: no village has more than 20 groups
# Below these the parser is unsure of a field: the bot asks back with numbered choices, or leaves
# the field for the dispatcher. Chosen on the dev and tuning sets (bench/parser_eval.py): under
# 0.65 a category is wrong about one time in six, above it about one time in a hundred.
SURE_CATEGORY = 0.65
SURE_VILLAGE = 0.6
# How sure the village is, by how the text gave it.
VILLAGE_NAMED = 0.95  # the roster name or its short form, once or always the same
VILLAGE_MISHEARD = 0.75  # a voice-input homophone or one wrong character before a place word
VILLAGE_DEFAULT = 0.9  # none named: the README's rule says the reporter's own
VILLAGE_SEVERAL = 0.5  # two different villages named: which one has the problem?
MAX_CHOICES = 3
# Long text: a message this long whose first sentence ends after FIRST_SENTENCE_MIN characters
# counts that sentence's words this much more; words of what is asked for (申请…, 请求…) too.
LONG_TEXT = 40
FIRST_SENTENCE_MIN = 8
FIRST_SENTENCE_WEIGHT = 1.3
ASKED_WEIGHT = 2.0

_GROUP_RE = re.compile(lexicon.GROUP_PATTERN)
_RANGE_RE = re.compile(lexicon.RANGE_PATTERN)
_HOUSEHOLD_COUNT_RE = re.compile(lexicon.HOUSEHOLD_COUNT_PATTERN)
_VAGUE_BEFORE = set(lexicon.VAGUE_BEFORE)
_VAGUE_COUNT_RE = re.compile(lexicon.VAGUE_COUNT_PATTERN)
_PAST_RE = re.compile("|".join(lexicon.PAST_WORDS))
_POSSESSIVE_RE = re.compile(lexicon.POSSESSIVE_PATTERN)
_THIS_HOUSEHOLD_RE = re.compile(lexicon.THIS_HOUSEHOLD_PATTERN)
_PLACE_AFTER_RE = re.compile(lexicon.PLACE_AFTER_PATTERN)
_ANCHOR_RE = re.compile(lexicon.ANCHOR_PATTERN)
_INTRO_RE = re.compile(lexicon.INTRO_PATTERN)
_GAP = lexicon.GAP
_HAN_RE = re.compile(r"[\u4e00-\u9fff]")
# Anything that is not a word character or the "…" of a cue ends a clause for urgency cues.
_CLAUSE_BREAK_RE = re.compile(r"[^\u4e00-\u9fff0-9a-z…]+")
_SPACE_RE = re.compile(r"\s+")
_KEEP_SUMMARY_RE = re.compile(lexicon.SUMMARY_KEEP_PATTERN)
_LEAD_FILLER_RE = re.compile(lexicon.LEAD_FILLER_PATTERN)
_FULL_WIDTH_PUNCT = str.maketrans(lexicon.FULL_WIDTH_PUNCT)
_PUNCT_RUN_RE = re.compile(lexicon.PUNCT_RUN_PATTERN)
_LATIN_OR_DIGIT_RE = re.compile(r"[0-9a-z]")
_FILLER_CHARS = set(lexicon.FILLER_CHARS)
_ORGANISATION_RE = re.compile(lexicon.ORGANISATION_PATTERN)
_SENTENCE_END_RE = re.compile(lexicon.SENTENCE_END_PATTERN)
_CLAUSE_END_RE = re.compile(lexicon.CLAUSE_END_PATTERN)
_ASK_RE = re.compile("|".join(lexicon.ASK_WORDS))
_NOT_NOW_RE = re.compile("|".join(lexicon.NOT_NOW_WORDS))
_PRESENT_RE = re.compile("|".join(lexicon.PRESENT_WORDS))

# What a message is, when it is not plainly a grievance: the bot answers each kind its own way.
GRIEVANCE = "grievance"
COURTESY = "courtesy"  # a greeting, thanks, an acknowledgement, an emoji
LOGISTICS = "logistics"  # 邻长 work among themselves: meetings, forms
FORWARDED = "forwarded"  # a forwarded joke or article
RESOLVED = "resolved"  # news that a problem is solved
UNCLEAR = "unclear"  # a few characters the parser cannot read
# Words enough for a problem, but none the parser knows as a topic or a request: the sender is
# asked whether it is one rather than being answered as if it were small talk.
UNSURE = "unsure"


@dataclass(frozen=True)
class ParseResult:
    """Fields the parser extracts from one message (see the eval README for their meaning)."""

    is_grievance: bool
    category: str | None
    village: str | None
    group: int | None
    urgent: bool
    households: int | None
    summary: str
    confidence: float
    kind: str = GRIEVANCE  # GRIEVANCE, or why not: COURTESY, LOGISTICS… UNSURE
    runner_up: str | None = None  # the next likeliest category, when another scored at all
    village_confidence: float = 1.0
    # The likeliest categories and villages, best first (the chosen one first), for a question.
    category_choices: tuple[str, ...] = ()
    village_choices: tuple[str, ...] = ()
    # Fields the parser is not sure of ("category", "village"): ask, or leave to the dispatcher.
    unsure_fields: tuple[str, ...] = ()
    second_opinion: bool = False  # whether the learned model decided the category
    group_said: bool = False  # the text named the group (else it is the reporter's, or None)

    @property
    def unsure(self) -> bool:
        """Whether the parser could not tell if this is a problem (ask the sender)."""
        return self.kind == UNSURE

    def choices(self, field: str) -> tuple[str, ...]:
        """The candidates of an unsure field, best first."""
        return self.category_choices if field == "category" else self.village_choices

    @property
    def ask_fields(self) -> tuple[str, ...]:
        """Unsure fields worth a numbered question: those with two candidates or more.

        An unsure field with one candidate ("other" when no topic word was found) is left to
        the dispatcher: a question with one answer asks nothing.
        """
        return tuple(field for field in self.unsure_fields if len(self.choices(field)) >= 2)


class SecondOpinion(Protocol):
    """What the parser asks when it is unsure of a category (a learned model)."""

    def second_opinion(self, text: str, result: ParseResult) -> ParseResult:
        """The result with the category this opinion holds, or the result unchanged."""
        ...


@dataclass(frozen=True)
class _Village:
    name: str
    stem: str


@dataclass(frozen=True)
class _Place:
    village: str
    start: int
    end: int
    exact: bool = True


class GrievanceParser:
    """Keyword-and-rule parser for grievance messages; build once, call ``parse`` many times."""

    def __init__(
        self,
        taxonomy: Taxonomy,
        villages: Iterable[str],
        *,
        second_opinion: SecondOpinion | None = None,
    ) -> None:
        """Build the tokenizer, keyword tables and village matchers.

        `second_opinion` (a model learned from the town's tickets, handlers/classifier.py) is
        asked only about a category the rules are unsure of.
        """
        self.taxonomy = taxonomy
        self.second_opinion = second_opinion
        self._villages = tuple(_Village(name, _stem(name)) for name in dict.fromkeys(villages))
        self._codes = taxonomy.codes
        self._homophones = taxonomy.homophone_map()

        # A private tokenizer: the global jieba one is shared process-wide and others may add
        # words to it. Village names go in with a high frequency so they stay whole tokens.
        self._tokenizer = jieba.Tokenizer()
        self._tokenizer.initialize()
        for village in self._villages:
            for word in {village.name, village.stem}:
                self._tokenizer.add_word(word, freq=200_000)

        names: dict[str, str] = {}
        for village in self._villages:
            names[village.name] = village.name
            names.setdefault(village.stem, village.name)
        self._village_by_word = names
        self._village_re = (
            re.compile("|".join(re.escape(w) for w in sorted(names, key=len, reverse=True)))
            if names
            else None
        )

        # Multi-character words are matched leftmost-longest on the text; single characters
        # only when jieba leaves them as a token of their own (so 桥 counts in "桥断了" but not
        # inside 松木桥).
        index = {code: i for i, code in enumerate(self._codes)}
        multi: dict[str, list[tuple[int, float]]] = {}
        single: dict[str, list[tuple[int, float]]] = {}
        gapped: dict[str, list[tuple[int, float]]] = {}
        for category in taxonomy.categories:
            for word, weight in category.keywords:
                target = gapped if "…" in word else single if len(word) == 1 else multi
                target.setdefault(word.lower(), []).append((index[category.code], weight))
        for word in taxonomy.neutral:
            multi.setdefault(word.lower(), [])
        self._multi = {w: tuple(v) for w, v in multi.items()}
        self._single = {w: tuple(v) for w, v in single.items()}
        lengths: dict[str, set[int]] = {}
        for word in self._multi:
            lengths.setdefault(word[0], set()).add(len(word))
        self._lengths = {ch: tuple(sorted(ls, reverse=True)) for ch, ls in lengths.items()}
        # Words split by a few characters ("山…垮" for "山要垮", "山又开始垮"), indexed by their
        # first part: str.find on that part is far cheaper than one big regex over the text.
        by_first: dict[str, list[tuple[re.Pattern[str], tuple[tuple[int, float], ...]]]] = {}
        for word in sorted(gapped):
            first, *rest = word.split("…")
            tail = re.compile(_GAP + _GAP.join(re.escape(part) for part in rest))
            by_first.setdefault(first, []).append((tail, tuple(gapped[word])))
        self._gapped = {first: tuple(tails) for first, tails in by_first.items()}
        # The last character of a word the lists do not know often names the thing itself
        # (吊桥 is a 桥, 拦河坝 a 坝); only characters listed as heads, so that 这批 is not
        # read as 批 (an approval).
        self._heads = frozenset(h for h in taxonomy.heads if h in self._single)

        urgency = taxonomy.urgency
        self._explicit_re = _alternation(urgency.explicit)
        self._not_urgent_re = _alternation(urgency.not_urgent)
        self._hazard_re = _alternation(urgency.hazards)
        self._outage_re = _alternation(urgency.outage)
        self._duration_re = _alternation(urgency.duration)
        self._vulnerable_re = _alternation(urgency.vulnerable)
        self._needs_re = _alternation(urgency.needs)
        self._aftermath_re = _alternation(urgency.aftermath)
        self._partial_re = _alternation(urgency.partial)
        self._waterside_re = _alternation(urgency.waterside)
        self._children_re = _alternation(urgency.children)

        ng = taxonomy.non_grievance
        courtesy = (*ng.acks, *ng.thanks, *ng.greetings)
        self._courtesy_re = _alternation(courtesy)
        # 好, 行, 嗯 alone occur in any sentence (好几户, 好臭); a longer pleasantry or an emoji
        # says the message is one.
        self._firm_courtesy_re = _alternation(
            w for w in courtesy if len(w) > 1 or not _HAN_RE.match(w)
        )
        self._logistics_re = _alternation(ng.logistics)
        self._forwarded_re = _alternation(ng.forwarded)
        self._resolved_re = _alternation(ng.resolved)
        self._not_resolved_re = _alternation(ng.not_resolved)
        self._contrast_re = _alternation(ng.contrast)
        self._requests_re = _alternation(taxonomy.requests)
        self._connector_re = _alternation(taxonomy.connectors)

    @classmethod
    def for_places(
        cls, villages: Iterable[str], taxonomy_path: Path | None = None
    ) -> GrievanceParser:
        """Build a parser from the taxonomy file (default one if no path) and village names."""
        return cls(load_taxonomy(taxonomy_path), villages)

    # ------------------------------------------------------------------ entry point

    def parse(
        self,
        text: str,
        reporter_village: str | None,
        reporter_group: int | None,
        *,
        assume_problem: bool = False,
    ) -> ParseResult:
        """Parse one message; never raises on odd input (empty, emoji-only, very long).

        With `assume_problem` (the sender said it is one) the message is read as a grievance
        whatever its words, "other" when no topic word says which.
        """
        norm = _normalise(text)
        if not assume_problem and not _HAN_RE.search(norm) and not _LATIN_OR_DIGIT_RE.search(norm):
            return _not_grievance(norm, 0.95, COURTESY)

        tokens = list(self._tokenizer.tokenize(norm, HMM=False))
        places = self._find_places(norm, {start for _, start, _ in tokens})
        masked = self._mask_organisations(_mask(norm, places))
        scores = self._score(masked, tokens)
        ranked = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
        top, second = scores[ranked[0]], scores[ranked[1]]
        category: str | None = self._codes[ranked[0]] if top > 0 else None

        verdict = None if assume_problem else self._grievance_verdict(norm, top)
        if verdict is not None:
            return _not_grievance(norm, *verdict)
        if top >= 1.0 and category is not None:
            confidence = min(1.0, top / CONFIDENT_SCORE) * (0.5 + 0.5 * (top - second) / top)
        elif (
            self._requests_re is not None
            and self._requests_re.search(norm)
            and (_residual_han(norm, self._courtesy_re) >= 4)
        ):
            # A genuine request or question with no topic words is the README's "other".
            if top < 0.5 or category is None:
                category, confidence = "other", 0.3
            else:
                confidence = 0.35
        elif assume_problem:
            category, confidence = category or "other", 0.2
        elif _found(self._firm_courtesy_re, norm):
            return _not_grievance(norm, 0.6, COURTESY)
        else:
            return _not_grievance(norm, 0.6, UNSURE)
        assert category is not None

        village = places[0].village if places else reporter_village
        village_confidence, village_choices = _village_confidence(places, reporter_village)
        group = self._find_group(norm)
        group_said = group is not None
        if group is None and village is not None and village == reporter_village:
            group = reporter_group
        households = self._households(masked)
        urgent = self._urgent(norm, category, households)
        scored = [self._codes[i] for i in ranked if scores[i] > 0]
        runner_up = next((code for code in scored if code != category), None)
        confidence = round(max(0.05, min(0.99, confidence)), 3)
        category_choices = tuple(dict.fromkeys([category, *scored]))[:MAX_CHOICES]
        unsure_fields = tuple(
            field
            for field, sure in (
                ("category", confidence >= SURE_CATEGORY),
                ("village", village_confidence >= SURE_VILLAGE),
            )
            if not sure
        )
        result = ParseResult(
            is_grievance=True,
            category=category,
            village=village,
            group=group,
            urgent=urgent,
            households=households,
            summary=_summary(text),
            confidence=confidence,
            runner_up=runner_up,
            village_confidence=village_confidence,
            category_choices=category_choices,
            village_choices=village_choices,
            unsure_fields=unsure_fields,
            group_said=group_said,
        )
        if "category" in unsure_fields and self.second_opinion is not None:
            result = self.second_opinion.second_opinion(text, result)
        return result

    # ------------------------------------------------------------------ grievance or not

    def _grievance_verdict(self, norm: str, top: float) -> tuple[float, str] | None:
        """Return a confidence and the kind if the message is *not* a grievance, else None."""
        if _found(self._forwarded_re, norm):
            return 0.9, FORWARDED
        if _found(self._logistics_re, norm) and top < LOGISTICS_OVERRIDE:
            return 0.85, LOGISTICS
        # "冇得自来水了" holds 来水了 but says the opposite.
        text = self._not_resolved_re.sub("□", norm) if self._not_resolved_re else norm
        resolved = self._resolved_re.search(text) if self._resolved_re else None
        if resolved is not None and not _found(self._contrast_re, text[resolved.end() :]):
            return 0.8, RESOLVED
        if top < 1.0 and _residual_han(norm, self._courtesy_re) <= 3:
            return (0.9, COURTESY) if _found(self._courtesy_re, norm) else (0.6, UNCLEAR)
        return None

    # ------------------------------------------------------------------ category

    def _score(self, masked: str, tokens: list[tuple[str, int, int]]) -> list[float]:
        """Sum keyword weights per category, favouring what is said first."""
        scores = [0.0] * len(self._codes)
        covered = [False] * len(masked)
        length = max(len(masked), 1)
        damp_from = len(masked) + 1
        if self._connector_re is not None:
            connector = self._connector_re.search(masked)
            if connector is not None:
                damp_from = connector.start()

        # In a long message the first sentence names the subject; what follows is often its
        # side effects ("…水渠堵了，秧都要干死了，老人挖不动").
        first_end = length
        if length >= LONG_TEXT:
            stop = _SENTENCE_END_RE.search(masked, FIRST_SENTENCE_MIN)
            if stop is not None and stop.start() < length - FIRST_SENTENCE_MIN:
                first_end = stop.start()
        asked = [
            (m.start(), _CLAUSE_END_RE.search(masked, m.end())) for m in _ASK_RE.finditer(masked)
        ]
        asked_spans = [(a, e.start() if e else length) for a, e in asked]

        def add(hits: tuple[tuple[int, float], ...], pos: int) -> None:
            # The README labels the first problem named, so later words count a little less
            # and words after "还有/另外" less again, but only once something came before.
            factor = 1.0 - 0.3 * pos / length
            if pos >= damp_from and any(scores):
                factor *= 0.6
            if pos < first_end < length:
                factor *= FIRST_SENTENCE_WEIGHT
            if any(a <= pos < e for a, e in asked_spans):
                factor *= ASKED_WEIGHT
            for idx, weight in hits:
                scores[idx] += weight * factor

        token_starts = {start for _, start, _ in tokens}
        i = 0
        while i < len(masked):
            matched = 0
            for size in self._lengths.get(masked[i], ()):
                if i + size > len(masked):
                    continue
                hits = self._multi.get(masked[i : i + size])
                if hits is not None:
                    # A word read across a token boundary ("家门口|水管" holds 口水) gives way
                    # to a word starting at the next token: that is the word actually said.
                    if i not in token_starts and self._word_starts_inside(
                        masked, i, size, token_starts
                    ):
                        break
                    add(hits, i)
                    matched = size
                    break
            if matched:
                for j in range(i, i + matched):
                    covered[j] = True
                i += matched
            else:
                i += 1
        for word, start, end in tokens:
            if end - start == 1:
                if not covered[start] and masked[start] == word:
                    hits = self._single.get(word)
                    if hits:
                        add(hits, start)
            elif (
                word[-1] in self._heads
                and masked[end - 1] == word[-1]
                and not any(covered[start:end])
            ):
                add(self._single[word[-1]], start)
        for first, tails in self._gapped.items():
            pos = masked.find(first)
            while pos >= 0:
                for tail, hits in tails:
                    if tail.match(masked, pos + len(first)):
                        add(hits, pos)
                pos = masked.find(first, pos + 1)
        return scores

    def _mask_organisations(self, masked: str) -> str:
        """Blank out firms' and shops' names, unless the name is a topic word itself."""
        if not _ORGANISATION_RE.search(masked):
            return masked
        chars = list(masked)
        for match in _ORGANISATION_RE.finditer(masked):
            start, end = match.span()
            # The longest listed word ending at the name's end or running into the ending
            # (水厂, 自来水公司) says what the text is about: keep the name then.
            if any(
                masked[j : end + k] in self._multi
                for j in range(start, end)
                for k in range(1, 6)
                if end + k <= len(masked)
            ):
                continue
            for j in range(start, end):
                chars[j] = "□"
        return "".join(chars)

    def _word_starts_inside(self, masked: str, i: int, size: int, token_starts: set[int]) -> bool:
        """Whether a listed word begins at a token start inside masked[i + 1 : i + size]."""
        for j in range(i + 1, i + size):
            if j not in token_starts:
                continue
            for length in self._lengths.get(masked[j], ()):
                if j + length <= len(masked) and masked[j : j + length] in self._multi:
                    return True
        return False

    # ------------------------------------------------------------------ places

    def _find_places(self, norm: str, token_starts: set[int]) -> list[_Place]:
        """Village mentions in text order: exact names, short forms, then homophones."""
        places: list[_Place] = []
        taken = [False] * len(norm)
        if self._village_re is not None:
            for match in self._village_re.finditer(norm):
                word = match.group()
                name = self._village_by_word[word]
                after = norm[match.end() : match.end() + 8]
                if word != name:
                    if after.startswith(lexicon.NOT_VILLAGE_AFTER):
                        continue
                    # Two-character short forms (安宁, 金牛) are ordinary words too: only take
                    # them as a whole token followed by a place word ("安宁3组", "金牛那边").
                    if len(word) < 3 and (
                        match.start() not in token_starts or not _PLACE_AFTER_RE.match(after)
                    ):
                        continue
                places.append(_Place(name, match.start(), match.end()))
                for j in range(match.start(), match.end()):
                    taken[j] = True
        for anchor in _ANCHOR_RE.finditer(norm):
            end = anchor.start()
            strict = (
                anchor.group()[0] in lexicon.STRICT_ANCHOR_FIRST
                or anchor.group()[-1] in lexicon.STRICT_ANCHOR_LAST
            )
            for village in self._villages:
                size = len(village.stem)
                start = end - size
                if start < 0 or any(taken[start:end]):
                    continue
                if self._fuzzy_match(norm[start:end], village.stem, strict):
                    places.append(_Place(village.name, start, end, exact=False))
                    for j in range(start, end):
                        taken[j] = True
                    break
        places.sort(key=lambda p: p.start)
        return places

    def _fuzzy_match(self, window: str, stem: str, strict_anchor: bool) -> bool:
        """Same stem up to voice-input homophones, or one wrong character in a long stem."""
        if not all(_HAN_RE.match(ch) for ch in window):
            return False
        exact = homophone = other = 0
        for got, want in zip(window, stem, strict=True):
            if got == want:
                exact += 1
            elif got in self._homophones.get(want, ()):
                homophone += 1
            else:
                other += 1
        if exact == len(stem) or exact == 0:
            return False
        if other == 0:
            return True
        return other == 1 and len(stem) >= 3 and exact >= 2 and strict_anchor

    # ------------------------------------------------------------------ numbers

    def _find_group(self, norm: str) -> int | None:
        """The group number the text names, skipping the sender's self-introduction."""
        found: list[tuple[int, bool]] = []
        for match in _GROUP_RE.finditer(norm):
            value = _number(match.group(2))
            if value is None or not 1 <= value <= MAX_GROUP:
                continue
            # "我是X村5组的邻长" introduces the sender; the problem's group may come later.
            intro = norm.startswith(lexicon.INTRO_PARTICLE, match.end()) and bool(
                _INTRO_RE.search(norm[max(0, match.start() - 14) : match.start()])
            )
            found.append((value, intro))
        if not found:
            return None
        for value, intro in found:
            if not intro:
                return value
        return found[0][0]

    def _households(self, masked: str) -> int | None:
        """Households affected per the README: counted 户/家, else one named home, else None."""
        vague = _VAGUE_COUNT_RE.search(masked)
        for match in _HOUSEHOLD_COUNT_RE.finditer(masked):
            before = masked[match.start() - 1] if match.start() > 0 else ""
            if before in _VAGUE_BEFORE or before == lexicon.ORDINAL:
                continue
            value = _number(match.group(1))
            if value is None or value <= 0:
                continue
            # The first word about households decides: "好几户…后来又有3户" is vague, while
            # "全组50多户" counts the group it names.
            if vague is not None and vague.end() + 1 < match.start():
                return None
            return value
        if vague is not None:
            return None
        if _POSSESSIVE_RE.search(masked) or _THIS_HOUSEHOLD_RE.search(masked):
            return 1
        return None

    # ------------------------------------------------------------------ urgency

    def _urgent(self, norm: str, category: str, households: int | None) -> bool:
        """The README's urgency rule: danger, wide or long outage, helpless person, or 急."""
        # Every clause is framed by "。", so that the cue "。快。" means 快 said on its own
        # ("河堤冒水 快", "快!!"), not 飞快 or 快过年了.
        mark = lexicon.CLAUSE_MARK
        text = mark + _CLAUSE_BREAK_RE.sub(mark, norm) + mark
        if self._not_urgent_re is not None:
            text = self._not_urgent_re.sub("", text)
        if _found(self._explicit_re, text):
            return True
        # "烧得精光" or "已经扑灭": the fire or collapse is over, help is asked for afterwards.
        if self._hazard_re is not None and not _found(self._aftermath_re, text):
            for hazard in self._hazard_re.finditer(text):
                # "上个月遭了火灾" asks for help after the fact; the danger is not present.
                if not _PAST_RE.search(text[max(0, hazard.start() - 8) : hazard.start()]):
                    return True
        # One home without water for an hour is not urgent; a group, or a day, is. Water that
        # comes weakly ("水压小, 楼上没水") is not an outage.
        if (
            category in ("water", "power")
            and _found(self._outage_re, text)
            and not (category == "water" and _found(self._partial_re, text))
            and (households != 1 or _found(self._duration_re, text))
            and not (_NOT_NOW_RE.search(text) and not _PRESENT_RE.search(text))
        ):
            return True
        # Children by open water is the drowning risk of the README, said or not.
        if (
            category == "safety"
            and _found(self._waterside_re, text)
            and _found(self._children_re, text)
        ):
            return True
        return bool(
            category in ("social_security", "medical", "housing")
            and _found(self._vulnerable_re, text)
            and _found(self._needs_re, text)
        )


# ---------------------------------------------------------------------- helpers


def _village_confidence(
    places: list[_Place], reporter_village: str | None
) -> tuple[float, tuple[str, ...]]:
    """How sure the village is, and the villages to offer when it is not."""
    named = tuple(dict.fromkeys(place.village for place in places))
    if not named:
        choices = (reporter_village,) if reporter_village else ()
        return (VILLAGE_DEFAULT if reporter_village else 0.0), choices
    if len(named) > 1:
        return VILLAGE_SEVERAL, named[:MAX_CHOICES]
    if places[0].exact:
        return VILLAGE_NAMED, named
    extra = (reporter_village,) if reporter_village and reporter_village != named[0] else ()
    return VILLAGE_MISHEARD, (*named, *extra)


def _stem(name: str) -> str:
    for suffix in lexicon.VILLAGE_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


def _alternation(words: Iterable[str]) -> re.Pattern[str] | None:
    """One regex for a cue list; "…" in a cue stands for up to four other characters."""
    # Longest first so that a regex alternation prefers 十万火急 to 急; ties sorted for
    # determinism.
    ordered = sorted({w.lower() for w in words}, key=lambda w: (-len(w), w))
    if not ordered:
        return None
    patterns = (_GAP.join(re.escape(part) for part in word.split("…")) for word in ordered)
    return re.compile("|".join(patterns))


def _found(pattern: re.Pattern[str] | None, text: str) -> bool:
    return pattern is not None and pattern.search(text) is not None


def _normalise(text: str) -> str:
    # NFKC folds full-width digits and letters ("３组", full-width "OK") into ASCII.
    norm = unicodedata.normalize("NFKC", text or "")[:MAX_CHARS]
    norm = norm.replace("\u200b", "").replace("\ufeff", "")
    return _SPACE_RE.sub(" ", norm).strip().lower()


def _mask(norm: str, places: list[_Place]) -> str:
    """Blank out village names so their characters (桥, 湖, 牛, 家) are not read as topics."""
    if not places:
        return norm
    chars = list(norm)
    for place in places:
        for j in range(place.start, place.end):
            chars[j] = "□"
    return "".join(chars)


def _number(text: str) -> int | None:
    """Arabic or Chinese numeral to int; a range like 五六 gives its lower bound."""
    if text.isdigit():
        return int(text)
    text = text.replace(lexicon.CIRCLE_ZERO, lexicon.ZERO)
    match = _RANGE_RE.fullmatch(text)
    if match:
        first = _number(match.group(1))
        unit = lexicon.RANGE_UNITS.get(match.group(3), 1)
        return first * unit if first else None
    try:
        value = cn2an.cn2an(text, "smart")
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    return int(value) if float(value).is_integer() else None


def _residual_han(norm: str, courtesy: re.Pattern[str] | None) -> int:
    """Chinese characters left once pleasantries and fillers are taken out."""
    rest = courtesy.sub("", norm) if courtesy is not None else norm
    return sum(1 for ch in rest if _HAN_RE.match(ch) and ch not in _FILLER_CHARS)


def _summary(text: str) -> str:
    """A short one-line version of the message for ticket lists."""
    cleaned = unicodedata.normalize("NFKC", (text or "")[:MAX_CHARS])
    cleaned = _KEEP_SUMMARY_RE.sub("", cleaned).translate(_FULL_WIDTH_PUNCT)
    cleaned = _SPACE_RE.sub(" ", cleaned).strip()
    cleaned = _LEAD_FILLER_RE.sub("", cleaned).strip()
    cleaned = _SPACE_RE.sub(lexicon.SUMMARY_JOINER, cleaned)
    cleaned = _PUNCT_RUN_RE.sub(r"\1", cleaned)
    if len(cleaned) > SUMMARY_CHARS:
        cleaned = cleaned[: SUMMARY_CHARS - 1].rstrip(lexicon.SUMMARY_TRAILING) + "…"
    return cleaned


def _not_grievance(norm: str, confidence: float, kind: str) -> ParseResult:
    return ParseResult(
        is_grievance=False,
        category=None,
        village=None,
        group=None,
        urgent=False,
        households=None,
        summary=_summary(norm),
        confidence=confidence,
        kind=kind,
    )
