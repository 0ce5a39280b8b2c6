"""Words the bot reads: command verbs, the answers it understands, the patterns of a command.

What the bot *says* lives in handlers/texts.py; the parser's word lists in handlers/lexicon.py.
Each verb is written here once; handlers register under these tuples (handlers/commands.py).
"""

from __future__ import annotations

from models.ticket import Rating

# ---------------------------------------------------------------- ticket commands (assignee)
ACCEPT = ("签收", "接单")
PROGRESS = ("进度", "进展")
RESOLVE = ("办结", "完成")
RETURN = ("退回", "退单")
TRANSFER = ("转办", "转交", "转给")
EXTEND = ("延期", "申请延期")
TODO = ("待办", "我的待办")
VIEW = ("查看", "详情")
# ---------------------------------------------------------------- ticket commands (dispatcher)
SEND_TO = ("派", "派单", "指派")
APPROVE = ("同意", "批准")
REJECT = ("驳回", "不同意")
MERGE = ("合并",)
INVALIDATE = ("无效",)
QUEUE = ("待派", "待审批")
# ---------------------------------------------------------------- ticket commands (reporter)
# A 邻长 asking after a ticket may say it as a cadre would (进度 12, 查看 12).
QUERY = ("查询", "进度查询", "进度", "查看")
MINE = ("我的", "我的工单", "我反映的")
MINE_TAILS = ("", "工单", "问题")  # 我的 / 我的工单 / 我的问题
RATINGS = {"满意": Rating.satisfied, "基本满意": Rating.basic, "不满意": Rating.unsatisfied}
CORRECT = ("改",)
WITHDRAW = ("撤回", "撤销", "取消")

# ---------------------------------------------------------------- other commands
HELP = ("帮助", "菜单", "?", "help", "功能", "怎么用")
BIND = ("绑定", "綁定")
WHOAMI = ("我是谁", "我是誰", "whoami", "我的身份", "查看绑定")
UNBIND = ("解绑", "解除绑定", "取消绑定", "解綁")
# English a phone may send for a command, read as the Chinese verb (longest first).
ENGLISH_VERBS = {
    "help": "帮助",
    "menu": "帮助",
    "status": "查询",
    "query": "查询",
    "my tickets": "我的",
    "mine": "我的",
    "my": "我的",
    "todo": "待办",
    "to do": "待办",
    "accept": "签收",
    "progress": "进度",
    "resolve": "办结",
    "done": "办结",
    "view": "查看",
    "details": "查看",
    "withdraw": "撤回",
    "whoami": "我是谁",
    "who am i": "我是谁",
    "bind": "绑定",
    "unbind": "解绑",
}

# ---------------------------------------------------------------- how a command is typed
# A ticket number; "3组", "5户", "3天" are groups, households and days, not ticket numbers.
TICKET_NUMBER = r"(?:工单|单号)?\s*[#＃]?\s*(\d{1,9})(?!\d|\s*[组組队户天个人家])\s*号?"
# What may follow a verb directly: a separator, a number, or (for 改) what is being corrected.
AFTER_VERB = r"[\s\d#＃:：,，。！!~]|工单|单号|类别|分类|类型|村|地点|紧急|不急"
# What separates a command's parts from its text, as typed in either width.
EDGES = " \u3000，,：:。！!~\uff5e"
# Numbers as typed in words: 3, 十二, 二十, 两.
LEADING_NUMBER = r"\s*(\d+|[一二两三四五六七八九十]{1,3})\s*"
CN_DIGITS = "零一二三四五六七八九"
CN_TWO, CN_TWO_PLAIN, CN_TEN = "两", "二", "十"
# 延期 12 3天 原因 / 3个工作日 原因: the unit after the days.
DAYS_UNIT = r"^\s*(?:天|[个個]?工作日)"
REASON_EDGES = " \u3000，,：:"
# 合并 12 到 10 / 合并 12 入 #10: what may stand between the two numbers.
MERGE_LINK = "#＃到入 "
# A bind command's name and phone are separated by any of these.
BIND_SEPARATORS = r"[\s,，:：;；、.。+\-]+"
# The answer to a question the bot asked: 1, 回复2, 选 三.
CHOICE_ANSWER = r"^(?:回复|选)?\s*(\d{1,2}|[一二两三四五六七八九])\s*[.。!！]?$"

# ---------------------------------------------------------------- 改: what is corrected
CATEGORY_FIELDS = ("类别", "分类", "类型")
CATEGORY_PREFIX = r"^(类别|分类|类型)(为|成|是)?"
PLACE_FIELDS = ("村", "地点", "组")
PLACE_PREFIX = r"^(村|地点)(为|成|是|到)?"
GROUP_IN_PLACE = r"第?(\d{1,3}|[一二两三四五六七八九十]{1,3})[组队]"
URGENT = ("紧急", "急", "加急", "很急")
NOT_URGENT = ("不急", "不紧急", "一般")

# ---------------------------------------------------------------- courtesy
THANKS = r"谢|感谢|辛苦|🙏"
GREETING = r"你好|您好|早上好|晚上好|在吗|在不在|hello|hi"
