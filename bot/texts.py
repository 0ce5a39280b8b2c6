"""Words the operator reads in bot/: the command line, its help, logs and delivery errors."""

# ---------------------------------------------------------------- channels, callbacks, CLI
# (i12-words) WeChat's products by the names the office knows them.
OFFICIAL_ACCOUNT = "公众号"
WECOM = "企业微信"
# `ticket show`: the first line, "#12【饮水供水】九湖村3组".
SHOW_HEADLINE = "#{id}【{category}】{place}"
