"""Words the operator reads in bot/: the command line, its help, logs and delivery errors."""

# ---------------------------------------------------------------- channels, callbacks, CLI
# (i12-words) WeChat's products by the names the office knows them.
OFFICIAL_ACCOUNT = "公众号"
WECOM = "企业微信"
# `ticket show`: the first line, "#12【饮水供水】九湖村3组".
SHOW_HEADLINE = "#{id}【{category}】{place}"
# (i15-parser) `grievance-bot learn`: the category classifier learned from the town's tickets.
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
LEARN_USED = "模型胜过规则：规则拿不准分类时参考模型。已保存到 {path}"
LEARN_NOT_USED = "模型没有胜过规则，不会使用（仍保存到 {path}，供以后比较）"
