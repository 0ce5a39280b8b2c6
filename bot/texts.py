"""The words of bot/: what the command line prints and the pieces of the digest bot/ assembles.

Every Chinese string a person reads from bot/ lives here, so a wording change is one edit. The
sentences that chat and the CLI share are still in handlers/texts.py; the shared names of states,
roles and places are in models/texts.py.
"""

from __future__ import annotations

# Between the items of a list in one line: 张三、李四.
LIST_JOIN = "、"

# ---------------------------------------------------------------- channels, callbacks, CLI
# (i12-words) WeChat's products by the names the office knows them.
OFFICIAL_ACCOUNT = "公众号"
WECOM = "企业微信"
# `ticket show`: the first line, "#12【饮水供水】九湖村3组".
SHOW_HEADLINE = "#{id}【{category}】{place}"

# ================================================================ report and roster commands
# (bot/cli_report.py, bot/cli_roster.py)

# ---------------------------------------------------------------- report: option help
REPORT_HELP_FROM = "第一天（默认今年1月1日）"
REPORT_HELP_TO = "最后一天（默认今天）"
REPORT_HELP_PLACE = "镇、片区、村或组；重名时连上级写：杏林镇/张家村"
REPORT_HELP_BY = "分组：片区、村、问题类别或承办人"
REPORT_HELP_JSON = "输出 JSON，给程序读"
REPORT_HELP_XLSX = "把汇总和台账（每件一行）写进这个 Excel 文件"

# ---------------------------------------------------------------- roster
ROSTER_NO_SUCH_TOWN = "没有叫“{name}”的镇。"
ROSTER_WHICH_TOWN = "请用 --town 指定镇名（数据库里没有镇，或有不止一个镇）。"
ROSTER_TEMPLATE_NOT_XLSX = "模板是 Excel 文件，请用 .xlsx 结尾的文件名。"
ROSTER_TEMPLATE_WRITTEN = "已生成名册模板：{path}"
ROSTER_EXPORT_WRONG_TYPE = "只能导出为 .xlsx 或 .csv 文件。"
ROSTER_EXPORTED = "已导出 {town} 名册 {count} 人：{path}"
ROSTER_HELP_MOVE = "邻长、组长、片长换微信时用：新微信绑定后，旧微信解除绑定并收到通知"
ROSTER_HELP_SENDER = "也解锁这个微信（openid 或企业微信账号）今天的失败次数"
ROSTER_HELP_ALL = "解锁所有人（结束全镇的绑定暂停）"
# The log line of an unbinding (for whoever runs the bot).
ROSTER_LOG_UNBOUND = "office removed the 公众号 binding of person #%s"

# ================================================================ weekly digest (bot/digest.py)

# One item of the digest's "most open tickets" lines: 张家村3件.
DIGEST_TOP_ITEM = "{name}{count}件"

# ================================================================ learn (bot/cli_learn.py)
# `grievance-bot learn`: the category classifier learned from the town's tickets.
LEARN_HELP = "从本镇工单（改类别、派单、改派）和以往台账学习问题分类，作为规则拿不准时的参考"
LEARN_LEDGER_HELP = "以往台账（Excel），读“问题描述/问题摘要”和“问题类别”两列；可写多次"
LEARN_RESOLVED_HELP = "也学习办结时未被退单、类别未改的工单（较弱的标签）"
LEARN_LEDGER_READ = (
    "台账 {file}：读到 {rows} 行，可用 {used} 行（{skipped} 行类别认不出或没有内容）"
)
LEARN_LEDGER_NO_COLUMNS = "台账 {file} 里找不到问题内容和问题类别两列（表头如：{text}；{category}）"
LEARN_SOURCE_JOINER = "，"
LEARN_SOURCES = "样本 {total} 条：{sources}"
LEARN_SOURCE_NAMES = {
    "corrected": "改类别",
    "rerouted": "改派",
    "dispatched": "派单",
    "resolved": "办结",
    "ledger": "台账",
}
LEARN_TOO_FEW = "样本不够，没有学习：{reason}"
LEARN_MEASURED = "交叉验证：模型分类准确率 {model:.1%}，规则在同样的工单上 {rules:.1%}"
LEARN_MEASURED_UNSURE = "其中规则拿不准分类的 {rows} 件：模型 {model:.1%}，规则 {rules:.1%}"
LEARN_USED = "模型胜过规则：规则拿不准分类时参考模型。已保存到 {path}"
LEARN_NOT_USED = "模型没有胜过规则，不会使用（仍保存到 {path}，供以后比较）"

# ================================================================ parse (bot/cli_parse.py)
PARSE_HELP_EXPLAIN = "同时输出各字段的把握程度、拿不准的字段和候选项，以及机器人会追问哪一项"
