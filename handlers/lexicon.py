"""The parser's own vocabulary: the Chinese words and word patterns handlers/parser.py reads.

Topic words, urgency cues and courtesy words are the office's and live in config/taxonomy.toml;
what is here is the grammar around them (numerals, groups, households, place words, fillers) and
does not change from one town to the next. Patterns are regular-expression source text; the
parser compiles them once. A change here changes what the bot understands: run the parser tests
and the eval (``grievance-bot parse``) after any edit.
"""

from __future__ import annotations

# ---------------------------------------------------------------------- numbers

CN_NUM_CHARS = "零〇一二两三四五六七八九十百"
NUM = rf"(?:[0-9]{{1,3}}|[{CN_NUM_CHARS}]{{1,4}})"
GROUP_NUM = rf"(?:[0-9]{{1,2}}|[{CN_NUM_CHARS}]{{1,3}})"
# "五六户" / "二三十户": two neighbouring digits are a range, whose lower bound the README asks for.
RANGE_PATTERN = r"([一二两三四五六七八九])([一二两三四五六七八九])([十百]?)"
# The unit a range like 二三十 ends with, and what it multiplies by.
RANGE_UNITS = {"十": 10, "百": 100}
# cn2an does not read the circle zero: it is read as the other zero.
CIRCLE_ZERO = "\u3007"
ZERO = "零"
# "第3户" numbers a household, it does not count them.
ORDINAL = "第"

# ---------------------------------------------------------------------- groups

# "第2、3组", "4至6组", "第4、第5村民小组": a list of groups names its first one.
GROUP_PATTERN = (
    rf"(?<![0-9{CN_NUM_CHARS}几])(第\s*)?({GROUP_NUM})\s*"
    rf"(?:(?:、|,|-|~|—|至|到|和|与|及)\s*(?:第\s*)?{GROUP_NUM}\s*)*"
    r"(?:村民)?小?(?:组|队)(?!织)"
)
# "我是X村5组的邻长": the sender introducing themselves, followed by this particle…
INTRO_PARTICLE = "的"
# …and preceded by this.
INTRO_PATTERN = r"我(?:是|们是)[^，。,.!?！？\s]{0,12}$"

# ---------------------------------------------------------------------- households

HOUSEHOLD_COUNT_PATTERN = (
    rf"({NUM})(几|多|来|余|把)?\s*(户|家)"
    r"(?!口|籍|头|主|一宅|长|庭|具|电|禽|畜|店|厂|公司|卫生|医院|诊所|超市|银行|企业|单位|饭店|"
    r"商店|药店|学校|工厂)"
)
# A character before a count that makes it vague ("好几户", "每家").
VAGUE_BEFORE = "几好数每各全多"
# "好几户", "几十户", "全组": the README wants no count at all when the text is vague.
VAGUE_COUNT_PATTERN = (
    rf"(?<![0-9{CN_NUM_CHARS}])几[十百]?(?:户|家)|(?:好多|很多|许多|不少|大部分)(?:户|家)|"
    r"全组|全村|家家户户|各家各户|每家每户"
)
# A danger said to be in the past ("上个月遭了火灾") is not present now.
PAST_WORDS = ("上个月", "上月", "去年", "前年", "上次", "以前", "之前", "那年", "上半年", "年前")
# Somebody's home ("我家", "邻居屋里"): one household.
POSSESSIVE_PATTERN = (
    r"(?:我们|他们|她们|咱们|你们|自己|老倌子|堂客|娭毑|奶奶|爷爷|婆婆|公公|邻居|亲戚|师傅|"
    r"老板|书记|主任|组长|队长|老[^\s人家]|[我你他她俺咱伊自全爹娘爷奶毑婶叔伯姨舅哥嫂姐妹弟侄崽])"
    r"(?:家|屋里|的屋|的房子|的房屋)(?!长|庭|具|电器|禽|畜|乡|务|属|族|伙)"
)
THIS_HOUSEHOLD_PATTERN = r"这家人|那家人|一家人|(?:有|这|那)一?户(?!口|籍)"

# ---------------------------------------------------------------------- places

# Endings a village's short form drops: 栗山河村 is also 栗山河.
VILLAGE_SUFFIXES = ("社区", "村")
# Words after a village stem that show the stem names the place (not "不得安宁").
PLACE_AFTER_PATTERN = (
    rf"(?:村|社区|\s*(?:第\s*)?{NUM}\s*(?:村民)?小?(?:组|队)|那边|这边|那里|这里|那头|那块|"
    r"一带|方向|的人|那个|那儿|这儿)"
)
# Place words a misheard village stem may stand before.
ANCHOR_PATTERN = (
    rf"(?:村|社区|(?:第\s*)?{NUM}\s*(?:村民)?小?(?:组|队)|那边|这边|那里|这里|那头|一带)"
)
# An anchor starting with one of these, or ending with one of those, allows one wrong character.
STRICT_ANCHOR_FIRST = "村社"
STRICT_ANCHOR_LAST = "组队"
# A short form followed by these names a town or an area, not the village.
NOT_VILLAGE_AFTER = ("镇", "片", "乡")

# ---------------------------------------------------------------------- clauses and fillers

# Characters that end a clause (the gap allowed inside a split cue stops at them).
GAP = r"[^，。,.!?！？\s]{0,4}?"
# Every clause is framed by this mark for the urgency cues ("。快。").
CLAUSE_MARK = "。"
# Characters that carry no meaning when counting what is left of a short message.
FILLER_CHARS = "的了啊呀吧呢哦噢嗯喂么们你我他她这那个就都也还是在"

# ---------------------------------------------------------------------- summary

# What a summary keeps besides letters and digits.
SUMMARY_KEEP_PATTERN = r"[^\u4e00-\u9fff0-9A-Za-z，。！？、：；（）,.!?:;()%\-+ ]"
# Openings a summary drops: greetings, addressing, "我想反映一下".
LEAD_FILLER_PATTERN = (
    r"^(?:喂+|你好|您好|书记|主任|领导|那个|就是|我想|我要|我跟你|跟你|向你|给你|"
    r"(?:反映|讲|说|问)一?下?(?:一个|个)?(?:事情|事|问题|情况)?|啊|呀|哦|噢|嗯|"
    r"我是[^，。,\s]{0,12}?(?:邻长|组长)的?|[，,。.\s!！])+"
)
# NFKC turns Chinese punctuation into ASCII; the summary is shown to people, so turn it back.
FULL_WIDTH_PUNCT = {",": "，", "!": "！", "?": "？", ";": "；", ":": "："}
# Spaces inside a summary become this.
SUMMARY_JOINER = "，"
# A run of punctuation is cut to its first mark.
PUNCT_RUN_PATTERN = r"([，。！？,.!?])[，。！？,.!?]+"
# Marks a cut summary does not end on before its "…".
SUMMARY_TRAILING = "，。,. "

# ---------------------------------------------------------------------- a past 台账 (learn)

# Column headings of an office's own Excel 台账 that `grievance-bot learn --from-ledger` reads as
# the message and its category, after the headings of our own `report --xlsx`.
LEDGER_TEXT_HEADINGS = (
    "问题描述", "诉求内容", "反映内容", "来电内容", "问题内容", "事项内容", "内容", "描述",
    "问题摘要", "摘要", "事项",
)  # fmt: skip
LEDGER_CATEGORY_HEADINGS = ("问题类别", "诉求类别", "问题分类", "类别", "分类", "类型")

# ---------------------------------------------------------------------- organisation names

# A firm's or shop's name carries words that are not the problem (金牛电器厂 is no power cut):
# the name before one of these endings is masked before topic words are counted, unless the
# whole name is itself a topic word (水厂, 自来水公司).
ORGANISATION_PATTERN = (
    r"([\u4e00-\u9fff]{2,4})(?=有限公司|公司|集团|合作社|加工厂|厂|商店|超市|酒店|饭店|门市部)"
)

# ---------------------------------------------------------------------- urgency: when

# An outage said to recur ("每次停水一两天", "频繁跳闸") or expected ("预计") asks for a lasting
# fix; it is not out now unless a word of the present says so too.
NOT_NOW_WORDS = ("每次", "频繁", "多次", "经常", "时常", "隔三差五", "三天两头", "预计")
PRESENT_WORDS = ("现在", "目前", "今天", "今早", "今晚", "至今", "到现在", "正在", "又停", "还没")

# Where a sentence ends (the first sentence of a long message names its subject), and a clause.
SENTENCE_END_PATTERN = r"[。！？!?;；\n]"
CLAUSE_END_PATTERN = r"[，。！？,.!?;；\n]"
# What the sender asks for names the problem as much as its subject: words after these, to the
# end of the clause, count more ("…申请临时救助", "请求协调入住敬老院").
ASK_WORDS = ("申请", "请求", "恳请", "要求", "希望", "请予")
