"""Tests of the rule-based grievance parser and the taxonomy file it reads."""

from __future__ import annotations

import json
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest

from config.taxonomy import CATEGORY_CODES, load_taxonomy, parse_taxonomy
from handlers.parser import GrievanceParser, ParseResult
from tests.conftest import SHARED, needs_shared

ROOT = Path(__file__).resolve().parents[2]
DEV_FILE = SHARED / "eval" / "grievances-dev.jsonl"
HELDOUT_FILE = Path(__file__).with_name("parser_heldout.jsonl")
FIELDS = ("is_grievance", "category", "village", "group", "urgent", "households")
# The targets, which the dev set must meet.
DEV_THRESHOLDS = {
    "is_grievance": 0.97,
    "category": 0.90,
    "village": 0.97,
    "group": 0.95,
    "urgent": 0.90,
    "households": 0.93,
}
# Three batches written before the parser was generalised, each in a style of its own: (a)
# voice-to-text run-ons of older villagers, (b) terse phone typing, (c) formal 组长/片长 reports.
# a and b were used to tune the word lists, so they must meet the dev targets; c was kept out
# of tuning as the honest estimate for unseen writers, so its floor is a little lower.
FRESH_BATCHES = {
    "parser_fresh_a.jsonl": DEV_THRESHOLDS,
    "parser_fresh_b.jsonl": DEV_THRESHOLDS,
    "parser_fresh_c.jsonl": {
        "is_grievance": 0.95,
        "category": 0.88,
        "village": 0.95,
        "group": 0.93,
        "urgent": 0.88,
        "households": 0.91,
    },
}


def _villages() -> list[str]:
    town = tomllib.loads((ROOT / "config" / "demo_town.toml").read_text(encoding="utf-8"))
    return [village["name"] for zone in town["zones"] for village in zone["villages"]]


@pytest.fixture(scope="module")
def parser() -> GrievanceParser:
    return GrievanceParser(load_taxonomy(), _villages())


def _parse(
    parser: GrievanceParser, text: str, village: str = "九湖村", group: int = 3
) -> ParseResult:
    return parser.parse(text, village, group)


def _accuracies(parser: GrievanceParser, path: Path) -> tuple[dict[str, float], list[str]]:
    rows: list[dict[str, Any]] = [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    hits = dict.fromkeys(FIELDS, 0)
    misses: list[str] = []
    for row in rows:
        result = parser.parse(row["text"], row["reporter_village"], row["reporter_group"])
        for field in FIELDS:
            if getattr(result, field) == row[field]:
                hits[field] += 1
            else:
                got, want = getattr(result, field), row[field]
                misses.append(f"{row['id']} {field}: got {got!r}, want {want!r}")
    return {field: hits[field] / len(rows) for field in FIELDS}, misses


def _report(name: str, accuracy: dict[str, float], misses: list[str]) -> None:
    print(f"\n{name}: " + ", ".join(f"{field} {value:.3f}" for field, value in accuracy.items()))
    for miss in misses:
        print("  ", miss)


# ---------------------------------------------------------------------- accuracy on labelled sets


@needs_shared("eval/grievances-dev.jsonl")
def test_dev_set_accuracy(parser: GrievanceParser) -> None:
    accuracy, misses = _accuracies(parser, DEV_FILE)
    _report("dev", accuracy, misses)
    for field, minimum in DEV_THRESHOLDS.items():
        assert accuracy[field] >= minimum, f"dev {field} accuracy {accuracy[field]:.3f} < {minimum}"


@pytest.mark.parametrize("name", sorted(FRESH_BATCHES))
def test_fresh_batch_accuracy(parser: GrievanceParser, name: str) -> None:
    accuracy, misses = _accuracies(parser, Path(__file__).with_name(name))
    _report(name, accuracy, misses)
    for field, minimum in FRESH_BATCHES[name].items():
        assert accuracy[field] >= minimum, f"{name} {field} {accuracy[field]:.3f} < {minimum}"


def test_heldout_set_accuracy(parser: GrievanceParser) -> None:
    accuracy, misses = _accuracies(parser, HELDOUT_FILE)
    _report("held-out", accuracy, misses)
    thresholds = {
        "is_grievance": 0.95,
        "category": 0.85,
        "village": 0.95,
        "group": 0.93,
        "urgent": 0.87,
        "households": 0.90,
    }
    for field, minimum in thresholds.items():
        assert accuracy[field] >= minimum, f"held-out {field} {accuracy[field]:.3f} < {minimum}"


@pytest.mark.parametrize("name", [HELDOUT_FILE.name, *sorted(FRESH_BATCHES)])
def test_labelled_files_are_well_formed(name: str) -> None:
    path = Path(__file__).with_name(name)
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    villages = set(_villages())
    assert len(rows) >= 80
    assert len({row["id"] for row in rows}) == len(rows)
    assert {row["category"] for row in rows if row["is_grievance"]} == set(CATEGORY_CODES)
    for row in rows:
        assert set(row) == {"id", "text", "reporter_village", "reporter_group", *FIELDS}
        assert row["reporter_village"] in villages
        if row["is_grievance"]:
            assert row["category"] in CATEGORY_CODES
            assert row["village"] in villages
            # The README's fallback: the reporter's group only in the reporter's own village.
            if row["village"] != row["reporter_village"] and row["group"] is not None:
                assert 1 <= row["group"] <= 20
        else:
            assert row["category"] is None and row["village"] is None and row["group"] is None
            assert row["urgent"] is False and row["households"] is None


# ---------------------------------------------------------------------- groups


@pytest.mark.parametrize(
    ("text", "group"),
    [
        ("第三组的路灯坏了", 3),
        ("三组的路灯坏了", 3),
        ("3组的路灯坏了", 3),
        ("３组的路灯坏了", 3),
        ("3队的路灯坏了", 3),
        ("三队的路灯坏了", 3),
        ("十一组的路灯坏了", 11),
        ("第十二村民小组的路灯坏了", 12),
        ("我是九湖村5组的邻长，8组的路灯坏了", 8),
        ("我们组和四组之间的路灯坏了", 4),
        ("第2、3组的路灯坏了", 2),  # a list names its first group
        ("4至6组的路灯坏了", 4),
        ("第十、第十一村民小组的路灯坏了", 10),
    ],
)
def test_group_forms(parser: GrievanceParser, text: str, group: int) -> None:
    result = _parse(parser, text)
    assert result.category == "road"
    assert result.group == group


def test_group_ignores_counts_and_impossible_numbers(parser: GrievanceParser) -> None:
    assert _parse(parser, "好几个组的路灯都坏了").group == 3  # reporter's own group
    assert _parse(parser, "三十五组的路灯坏了").group == 3  # no village has 35 groups
    assert _parse(parser, "赶紧组织人去把路上的树搬开").group == 3


# ---------------------------------------------------------------------- village and fallback


def test_village_named_by_full_and_short_name(parser: GrievanceParser) -> None:
    assert _parse(parser, "金牛村8组的水管爆了").village == "金牛村"
    assert _parse(parser, "双合五队的自来水停了").village == "双合村"
    assert _parse(parser, "童子山那边的水管爆了").village == "童子山村"
    assert _parse(parser, "杨家嘴3组的水管爆了").village == "杨家嘴社区"


@pytest.mark.parametrize(
    ("text", "village"),
    [
        ("黄道伦村的电线断了", "黄道仑村"),
        ("马边溪3组的电线断了", "马鞭溪村"),
        ("松木乔那边的电线断了", "松木桥村"),
        ("毛阳坪村的电线断了", "毛羊坪村"),
        ("双河村7组的电线断了", "双合村"),
        ("九胡村的电线断了", "九湖村"),
        ("德贸园村的电线断了", "德茂园村"),
    ],
)
def test_homophone_villages(parser: GrievanceParser, text: str, village: str) -> None:
    assert _parse(parser, text, "大栗港村", 2).village == village


def test_words_that_merely_contain_a_village_name(parser: GrievanceParser) -> None:
    # 不得安宁 is an idiom, 大栗港镇 the town, 王家村 no village of ours.
    assert _parse(parser, "广场舞吵得不得安宁", "朱家村", 4).village == "朱家村"
    assert _parse(parser, "大栗港镇上的路灯不亮", "朱家村", 4).village == "朱家村"
    assert _parse(parser, "王家村那边的路灯不亮", "朱家村", 4).village == "朱家村"


def test_group_fallback_follows_the_village(parser: GrievanceParser) -> None:
    # Another village named without a group: the reporter's group says nothing about it.
    other = _parse(parser, "刘家村桥头的路灯不亮", "九湖村", 3)
    assert (other.village, other.group) == ("刘家村", None)
    # The reporter's own village named without a group: the reporter's group.
    own = _parse(parser, "九湖村桥头的路灯不亮", "九湖村", 3)
    assert (own.village, own.group) == ("九湖村", 3)
    # Nothing named: both fall back.
    plain = _parse(parser, "桥头的路灯不亮", "九湖村", 3)
    assert (plain.village, plain.group) == ("九湖村", 3)
    # A group named in another village is kept.
    named = _parse(parser, "刘家村6组的路灯不亮", "九湖村", 3)
    assert (named.village, named.group) == ("刘家村", 6)


# ---------------------------------------------------------------------- households


@pytest.mark.parametrize(
    ("text", "households"),
    [
        ("十几户冇得水喝了", 10),
        ("二十多户冇得水喝了", 20),
        ("五六户冇得水喝了", 5),
        ("一二十户冇得水喝了", 10),
        ("有6户冇得水喝了", 6),
        ("三户人家冇得水喝了", 3),
        ("我家冇得水喝了", 1),
        ("他家冇得水喝了", 1),
        ("刘奶奶家冇得水喝了", 1),
        ("老李家冇得水喝了", 1),
        ("我屋里冇得水喝了", 1),
        ("有户人家冇得水喝了", 1),
        ("一家人冇得水喝了", 1),
        ("我们两家冇得水喝了", 2),
        ("全组50多户冇得水喝了", 50),  # a count beats the vague word that introduces it
        ("好几户冇得水喝了 后来又有3户", None),  # the first word about households decides
        ("好几户冇得水喝了", None),
        ("几十户冇得水喝了", None),
        ("全组冇得水喝了", None),
        ("五个人冇得水喝了", None),
        ("老人家冇得水喝了", None),
        ("张家村冇得水喝了", None),
        ("大家都冇得水喝了", None),
        ("冇得水喝了", None),
    ],
)
def test_households(parser: GrievanceParser, text: str, households: int | None) -> None:
    result = _parse(parser, text)
    assert result.category == "water"
    assert result.households == households


# ---------------------------------------------------------------------- urgency


@pytest.mark.parametrize(
    ("text", "urgent"),
    [
        ("4组停电了", True),  # a whole group without power
        ("我家停电了", False),  # one home, no duration given
        ("我家停电两天了", True),  # a day or more
        ("马路上那个急弯太窄了", False),  # 急 inside 急弯 is not urgency
        ("路灯坏了 请尽快来修", True),
        ("路灯坏了 不急", False),
        ("后山往下滚石头了", True),
        ("屋后电杆歪了 随时会倒", True),
        ("五保老人一个人住 摔了一跤起不来 没人照顾", True),
        ("上个月遭了火灾 想申请临时救助", False),
        ("塘边冇得围栏 细伢子天天在那里玩", True),
        ("农药价格又涨了", False),
        # 快 said on its own is a call for haste; inside 飞快 it is not.
        ("河堤冒水 快", True),
        ("快!! 河堤冒水了", True),
        ("车子在马路上开得飞快", False),
        # 要倒 at the end of a clause is a collapse; 要倒垃圾 is not.
        ("他家房子歪了 要倒", True),
        ("要倒垃圾的地方冇得垃圾桶", False),
        # The fire is over; relief is asked for afterwards.
        ("屋里着火烧得精光 想申请临时救助", False),
        # Weak water is not an outage, however it is put.
        ("水压太小 楼上冇得水", False),
        ("从昨天起就冇得自来水了 十几户人家", True),
        # Children by open water: the drowning risk, even unsaid.
        ("塘边没护栏 伢子多", True),
        ("拿着棍子到处追人打", True),
    ],
)
def test_urgency(parser: GrievanceParser, text: str, urgent: bool) -> None:
    result = _parse(parser, text)
    assert result.is_grievance
    assert result.urgent is urgent


# ---------------------------------------------------------------------- grievance or not


@pytest.mark.parametrize(
    "text",
    [
        "好的收到",
        "谢谢书记",
        "明天几点开会",
        "要得 晓得了",
        "早上好🌞",
        "辛苦了👍",
        "已通知到各户",
        "上回说的路灯修好了，谢谢",
        "【转发】一个笑话哈哈",
        "培训在哪个会议室",
        "好的 我去跟他们讲",
        "电来了 谢谢",
        "书记你好 我有个事想问一下",
    ],
)
def test_non_grievances(parser: GrievanceParser, text: str) -> None:
    result = _parse(parser, text)
    assert not result.is_grievance
    assert (result.category, result.village, result.group) == (None, None, None)
    assert result.urgent is False and result.households is None


def test_acknowledgement_followed_by_a_problem_is_a_grievance(parser: GrievanceParser) -> None:
    result = _parse(parser, "收到。顺便说一下屋后的水管还在漏")
    assert result.is_grievance and result.category == "water"


def test_resolved_then_broken_again_is_a_grievance(parser: GrievanceParser) -> None:
    assert _parse(parser, "路灯修好了 可是第二天又不亮了").is_grievance


def test_question_with_no_topic_word_is_other(parser: GrievanceParser) -> None:
    result = _parse(parser, "村里的公章在哪个手里 要盖个章怎么办")
    assert result.is_grievance and result.category == "other"


def test_first_problem_named_wins(parser: GrievanceParser) -> None:
    assert _parse(parser, "垃圾好久冇人收了 还有路灯也坏了").category == "environment"
    assert _parse(parser, "路灯坏了 还有垃圾好久冇人收了").category == "road"


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("低宝今年怎么冇评上", "social_security"),  # homophone of 低保
        ("路登坏了", "road"),  # homophone of 路灯
        ("水泥路被压烂了", "road"),  # 水泥 is not water
        ("松木桥村的化肥发少了", "agriculture"),  # 桥 inside the village name is not a bridge
        ("隔壁为了宅基地的界线跟我吵起来了", "dispute"),
        ("宅基地审批要多久", "housing"),
        ("老板欠了三个月工钱", "dispute"),
        ("山体滑坡把路堵了", "safety"),
        ("宅基地界线吵", "dispute"),  # the boundary is the quarrel, whatever land it crosses
        ("屋后的山又开始往下垮了", "safety"),  # 山…垮: a word split by a few characters
        ("吊桥晃得厉害", "road"),  # 桥 heads a word the lists do not know
        ("拦河坝开裂了", "irrigation"),
        ("养猪的把猪屎往沟里放", "environment"),  # livestock pollution, not livestock raising
        ("老屋瓦飞了", "housing"),
        ("垃级桶满了", "environment"),  # a typing slip of 垃圾
        ("马路边堆了好多装修垃圾", "environment"),  # 马路边 only says where
    ],
)
def test_category_vocabulary(parser: GrievanceParser, text: str, category: str) -> None:
    assert _parse(parser, text).category == category


# ---------------------------------------------------------------------- robustness and output


ODD_INPUT = [
    "",
    "   ",
    "\n\t",
    "😂😂😂",
    "🌹🙏",
    "？？",
    "123",
    "abc",
    "停" * 5000,
    "路灯不亮" * 3000,
]


@pytest.mark.parametrize("text", ODD_INPUT)
def test_odd_input_never_raises(parser: GrievanceParser, text: str) -> None:
    result = _parse(parser, text)
    assert len(result.summary) <= 30
    assert 0.0 <= result.confidence <= 1.0


def test_summary_is_short_and_clean(parser: GrievanceParser) -> None:
    text = (
        "喂喂你好书记我跟你反映一下 我们组那条机耕道被大水冲垮了一大截 车子进不来 谷子运不出去 🙏"
    )
    summary = _parse(parser, text).summary
    assert len(summary) <= 30
    assert summary.startswith("我们组那条机耕道")
    assert "🙏" not in summary and "  " not in summary


def test_confidence_reflects_the_margin(parser: GrievanceParser) -> None:
    clear = _parse(parser, "停电了 电线断了 变压器也烧了")
    mixed = _parse(parser, "路边的水管漏了")
    assert clear.confidence > mixed.confidence
    assert 0.0 < mixed.confidence <= 1.0


def test_parse_is_deterministic_and_fast(parser: GrievanceParser) -> None:
    text = "书记你好 我是金牛村三组的 后山那条路被水冲垮了 车子过不去 麻烦尽快来看一下"
    first = _parse(parser, text)
    started = time.perf_counter()
    for _ in range(200):
        assert _parse(parser, text) == first
    per_message = (time.perf_counter() - started) / 200
    assert per_message < 0.002, f"{per_message * 1e6:.0f} µs per message"


def test_for_places_uses_the_default_taxonomy() -> None:
    parser = GrievanceParser.for_places(["新村", "老屋场村"])
    result = parser.parse("老屋场2组停电了", "新村", 1)
    assert (result.village, result.group, result.category) == ("老屋场村", 2, "power")


# ---------------------------------------------------------------------- taxonomy file


def _raw_taxonomy() -> dict[str, Any]:
    return tomllib.loads((ROOT / "config" / "taxonomy.toml").read_text(encoding="utf-8"))


def test_taxonomy_has_the_thirteen_categories() -> None:
    taxonomy = load_taxonomy()
    assert taxonomy.codes == CATEGORY_CODES
    for category in taxonomy.categories:
        assert category.name and category.unit and category.keywords
        assert category.level in ("village", "town")
    assert taxonomy.get("water").name == "饮水供水"
    with pytest.raises(KeyError):
        taxonomy.get("weather")


def test_taxonomy_rejects_an_unknown_code() -> None:
    data = _raw_taxonomy()
    data["categories"][0]["code"] = "roads"
    with pytest.raises(ValueError, match="roads"):
        parse_taxonomy(data)


def test_taxonomy_rejects_a_bad_level_naming_the_category() -> None:
    data = _raw_taxonomy()
    data["categories"][1]["level"] = "county"
    with pytest.raises(ValueError, match=r"water.*county"):
        parse_taxonomy(data)


def test_taxonomy_rejects_unknown_keys_and_bad_weights() -> None:
    data = _raw_taxonomy()
    data["categories"][2]["keyword"] = ["typo"]
    with pytest.raises(ValueError, match="keyword"):
        parse_taxonomy(data)
    data = _raw_taxonomy()
    data["categories"][3]["keywords"].append({"word": "电", "weight": -1})
    with pytest.raises(ValueError, match="power"):
        parse_taxonomy(data)


def test_taxonomy_rejects_a_missing_category() -> None:
    data = _raw_taxonomy()
    data["categories"] = [c for c in data["categories"] if c["code"] != "other"]
    with pytest.raises(ValueError, match="other"):
        parse_taxonomy(data)


def test_taxonomy_loads_without_the_optional_lists() -> None:
    data = _raw_taxonomy()
    for key in ("aftermath", "partial", "waterside", "children"):
        del data["urgency"][key]
    del data["matching"]["heads"]
    del data["non_grievance"]["not_resolved"]
    taxonomy = parse_taxonomy(data)
    assert taxonomy.heads == () and taxonomy.urgency.aftermath == ()
    # The parser still works; it only loses what those lists add.
    parser = GrievanceParser(taxonomy, ["九湖村"])
    assert parser.parse("吊桥晃得厉害", "九湖村", 3).category != "road"
    assert parser.parse("桥断了", "九湖村", 3).category == "road"


def test_taxonomy_rejects_bad_gaps_and_heads() -> None:
    data = _raw_taxonomy()
    data["categories"][0]["keywords"].append("路…")
    with pytest.raises(ValueError, match="road"):
        parse_taxonomy(data)
    data = _raw_taxonomy()
    data["matching"]["heads"].append("桥梁")
    with pytest.raises(ValueError, match="heads"):
        parse_taxonomy(data)


def test_taxonomy_bad_toml_is_a_value_error(tmp_path: Path) -> None:
    broken = tmp_path / "taxonomy.toml"
    broken.write_text("[weights\nstrong = 3", encoding="utf-8")
    with pytest.raises(ValueError, match="TOML"):
        load_taxonomy(broken)


# ---------------------------------------------------------------------- what a non-grievance is


def test_a_word_read_across_two_words_gives_way_to_the_word_said(parser: GrievanceParser) -> None:
    # 口水 (listed only to shield 水) lies across 门口|水管; 水管 is the word said.
    assert _parse(parser, "老周家门口水管裂了").category == "water"
    assert _parse(parser, "他流口水").category is None  # the shield itself still holds


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("好的收到", "courtesy"),
        ("中秋节快乐 阖家幸福", "courtesy"),
        ("明天几点开会", "logistics"),
        ("上回说的路灯修好了，谢谢", "resolved"),
        ("3组", "unclear"),
        ("那个铁皮棚子被风吹跑了", "unsure"),
    ],
)
def test_a_non_grievance_says_what_it_is(parser: GrievanceParser, text: str, kind: str) -> None:
    result = _parse(parser, text)
    assert not result.is_grievance and result.kind == kind
    assert result.unsure is (kind == "unsure")


def test_a_problem_the_sender_confirmed_is_read_as_one(parser: GrievanceParser) -> None:
    result = parser.parse("那个铁皮棚子被风吹跑了", "九湖村", 3, assume_problem=True)
    assert result.is_grievance and result.category == "other"
    assert (result.village, result.group) == ("九湖村", 3)
