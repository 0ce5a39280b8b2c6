"""Every word the web pages show, in one place (the templates read them as `T`)."""

from __future__ import annotations

APP_TITLE = "民情工单"
SIGNED_IN_AS = "{name}（{roles}）"
SIGN_OUT = "退出"
ROLE_SEPARATOR = "、"
HOME = "工单"

# ---------------------------------------------------------------- ticket page
TICKET_TITLE = "工单 #{id}"
TITLE_FALLBACK = "{category}｜{place}"
URGENT = "紧急"
NOT_URGENT = "一般"
FIELD_CATEGORY = "类别"
FIELD_PLACE = "地点"
FIELD_URGENCY = "紧急程度"
FIELD_HOUSEHOLDS = "涉及户数"
FIELD_HOUSEHOLDS_VALUE = "{count} 户"
FIELD_REPORTER = "反映人"
FIELD_ASSIGNEE = "承办人"
FIELD_ROUTE = "派单路径"
FIELD_ACK_DUE = "签收期限"
FIELD_RESOLVE_DUE = "办结期限"
FIELD_CREATED = "受理时间"
FIELD_RESULT = "办理结果"
FIELD_MERGED = "已并入"
NOBODY = "待定"
CALL = "拨打"
OVERDUE = "已超期"
PHOTOS = "照片"
RESULT_PHOTOS = "办结照片"
VOICE = "语音"
VOICE_DOWNLOAD = "下载语音（AMR 格式，微信里可直接播放）"
LOCATION = "位置"
OPEN_MAP = "在地图中打开"
NOT_DOWNLOADED = "{kind}还没有从微信取回（每分钟自动重试；微信只保留 3 天）"
DOWNLOAD_FAILED = "{kind}没能从微信取回：{error}"
CONSOLE_MODE_MEDIA = "{kind}未下载：开发模式没有配置微信接口，无法从微信取回"
TIMELINE = "办理经过"
SYSTEM = "系统"
NO_TEXT = "（没有文字）"

# ---------------------------------------------------------------- list page
LIST_TITLE = "工单"
LIST_EMPTY = "没有符合条件的工单。"
UNKNOWN_PLACE = "未知地点"
GROUP_SUFFIX = "{number}组"
FILTER_STATE = "状态"
FILTER_OPEN = "未办结"
FILTER_ALL = "全部"
FILTER_VILLAGE = "村（社区）"
FILTER_CATEGORY = "类别"
FILTER_ASSIGNEE = "承办人"
FILTER_OVERDUE = "只看超期"
FILTER_FROM = "受理自"
FILTER_TO = "至"
FILTER_SEARCH = "搜索（文字或工单号）"
FILTER_APPLY = "筛选"
FILTER_CLEAR = "清除"
PAGE_PREVIOUS = "上一页"
PAGE_NEXT = "下一页"
PAGE_NUMBER = "第 {page} 页"
COLUMN_NUMBER = "工单号"
COLUMN_SUMMARY = "问题"
COLUMN_STATE = "状态"
COLUMN_DUE = "办结期限"

# ---------------------------------------------------------------- sign-in
LOGIN_TITLE = "登录"
LOGIN_INTRO = "输入在名册登记的手机号，验证码会发到您绑定的微信上。"
LOGIN_PHONE = "手机号"
LOGIN_SEND = "发送验证码"
CODE_TITLE = "输入验证码"
CODE_SENT = "如果这个手机号已在名册里并绑定了微信，验证码已经发到微信上，10 分钟内有效。"
CODE_FIELD = "验证码"
CODE_SUBMIT = "登录"
CODE_WRONG = "验证码不对或已过期，请重新输入，或返回重新获取。"
CODE_AGAIN = "重新获取验证码"
CODE_MESSAGE = "您的网页登录验证码：{code}（10 分钟内有效）。不是您本人操作请忽略，不要告诉别人。"
NOT_BOUND = "这个微信还没有绑定名册，请先在公众号或企业微信里发送“绑定 姓名 手机号”。"
OAUTH_FAILED = "微信登录没有成功，请从通知里的链接重新打开。"
LINK_EXPIRED = "链接已过期或无效，请从最新的通知重新打开，或用手机号登录。"

# ---------------------------------------------------------------- errors
FORBIDDEN_TITLE = "无权查看"
FORBIDDEN = "这件工单不在您的职责范围内。"
NOT_FOUND_TITLE = "找不到"
NOT_FOUND = "没有这个页面或工单。"
BAD_FORM_TITLE = "表单已失效"
BAD_FORM = "表单已失效（可能停留太久），请返回刷新后再提交。"
BACK = "返回"
TOO_LARGE_TITLE = "文件太大"
TOO_LARGE = "上传的照片太大了，每张请在 10 MB 以内，最多 6 张。"

# ---------------------------------------------------------------- notifications and CLI
NOTICE_LINK = "查看详情：{url}"
ADMIN_GRANTED = "{name}（{phone}）已是管理员。"
ADMIN_REVOKED = "{name}（{phone}）不再是管理员。"
ADMIN_NOT_FOUND = "名册里没有手机号为 {phone} 的管理员。"
ADMIN_NEEDS_PLACE = "名册里没有手机号 {phone}：要新建，请同时写 --name 和 --place。"
ADMIN_UNKNOWN_PLACE = "没有叫“{name}”的地方。"
ADMIN_NONE = "还没有管理员。"
ADMIN_LINE = "{name}\t{phone}\t{place}"
ADMIN_LINK = "{name} 的登录链接（{minutes} 分钟内有效，只发给本人）：\n{url}"

# ---------------------------------------------------------------- figures page
FIGURES_TITLE = "数据"
FIGURE_CARDS = (
    "collected",
    "resolved",
    "resolution_rate",
    "response_rate",
    "on_time_rate",
    "satisfaction_rate",
    "reopen_rate",
    "return_rate",
    "overdue",
    "participation_rate",
)
FIGURES_PERIOD_FROM = "从"
FIGURES_PERIOD_TO = "到"
FIGURES_PLACE = "范围"
FIGURES_PLACE_ALL = "全部"
FIGURES_BY = "分组"
FIGURES_APPLY = "查看"
FIGURES_COUNTS_CHART = "收集与解决"
FIGURES_RATES_CHART = "解决率与满意率"
FIGURES_OVERDUE_CHART = "超期未办结"
FIGURES_TREND_CHART = "每周趋势（按受理周）"
TREND_WEEK = "{month}月{day}日"
FIGURES_NONE_OVERDUE = "没有超期未办结的工单。"
FIGURES_RED = "红榜（综合得分最高）"
FIGURES_BLACK = "黑榜（综合得分最低）"
FIGURES_SCORE = "{name}：{score} 分"
FIGURES_TABLE = "明细"
FIGURES_LEDGER = "下载台账（Excel）"
FIGURES_NO_CHARTS = "图表文件没有安装（在 web 目录运行 npm ci），下面只列数字。"
NAV_LIST = "工单"
NAV_FIGURES = "数据"

# ---------------------------------------------------------------- actions on a ticket page
ACTIONS_TITLE = "办理"
ACTION_LABELS = {
    "accept": "签收",
    "progress": "记录进展",
    "resolve": "办结",
    "return": "退回",
    "transfer": "转办",
    "extend": "申请延期",
    "send_to": "派单",
    "approve": "同意",
    "reject": "驳回",
    "merge": "合并",
    "invalidate": "认定无效",
}
FIELD_NOTE = "进展说明"
FIELD_RESULT = "办理结果"
FIELD_RESULT_PHOTOS = "办结照片（可多张）"
FIELD_REASON = "原因"
FIELD_TO = "承办人"
FIELD_TO_NAME = "或写姓名、手机号"
FIELD_DAYS = "延期（工作日）"
FIELD_INTO = "并入工单号"
PENDING_REQUEST = "待审批：{request}"
REQUEST_KINDS = {"return": "退回申请", "extension": "延期申请"}
DONE = {
    "accept": "已签收 #{id}。",
    "progress": "已记录 #{id} 的进展，并告知反映人。",
    "resolve": "#{id} 已办结，已请反映人评价。",
    "return": "#{id} 的退回申请已交调度员。",
    "transfer": "#{id} 已转办。",
    "extend": "#{id} 的延期申请已交调度员审批。",
    "send_to": "#{id} 已派单。",
    "approve": "已同意 #{id} 的申请。",
    "reject": "已驳回 #{id} 的申请。",
    "merge": "#{id} 已合并。",
    "invalidate": "#{id} 已认定无效。",
}
REFUSED = "没有办成，请刷新后再试。"
REFUSALS = {
    "needs_text": "请填写说明。",
    "wrong_state": "#{id} 现在是“{state}”，不能这样办理。",
    "too_long": "延期最多 {max} 个工作日。",
    "pending_request": "#{id} 已有一个延期申请在等审批。",
    "no_pending_request": "#{id} 没有待审批的申请。",
    "unknown_person": "名册里找不到可以承办的“{name}”。",
    "ambiguous_person": "名册里有几位叫“{name}”的，请改写手机号：{phones}",
    "bad_target": "#{id} 是“{state}”，不能并入。",
    "not_found": "找不到您可以操作的 #{id} 号工单。",
    "not_allowed": "这一步您没有权限。",
}
NOT_A_PHOTO = "上传的文件不是照片（JPEG、PNG、GIF 或 WebP，10 MB 以内）。"

# ---------------------------------------------------------------- outbox page (the office)
NAV_OUTBOX = "消息"
OUTBOX_TITLE = "发送失败的消息"
OUTBOX_NONE = "没有发送失败的消息。"
OUTBOX_INTRO = (
    "这些消息多次发送失败，已停止重试。查明原因（如收件人未关注、企业微信账号变更）后可重新发送。"
)
OUTBOX_TO = "收件人"
OUTBOX_TICKET = "工单"
OUTBOX_KIND = "类型"
OUTBOX_ATTEMPTS = "已试 {count} 次"
OUTBOX_CREATED = "生成时间"
OUTBOX_ERROR = "最后的错误"
OUTBOX_RETRY = "重新发送"
OUTBOX_RETRY_ALL = "全部重新发送（{count} 条）"
OUTBOX_RETRIED = "已重新排队 {count} 条消息，稍后由发送进程送出"
OUTBOX_REFUSED = {
    "missing": "没有 #{id} 这条消息",
    "sent": "消息 #{id} 已经发出，不再重发",
    "sending": "消息 #{id} 正在发送，请稍后再看",
}

# ---------------------------------------------------------------- roster page (the office)
NAV_ROSTER = "名册"
ROSTER_TITLE = "名册"
ROSTER_UPLOAD_TITLE = "导入名册表"
ROSTER_UPLOAD_HELP = (
    "上传全镇名册（.xlsx 或 .csv）。先检查、不改动名册；检查通过后再点“确认导入”。"
    "有任何一处问题，整个表都不导入。"
)
ROSTER_TOWN = "乡镇"
ROSTER_FILE = "名册文件"
ROSTER_CHECK = "检查"
ROSTER_NO_FILE = "请选择 .xlsx 或 .csv 文件"
ROSTER_WRONG_TYPE = "只能上传 .xlsx 或 .csv 文件"
ROSTER_PREVIEW_TITLE = "检查结果：{file}"
ROSTER_PREVIEW_OK = (
    "检查通过，尚未改动名册。确认导入后：新增 {added} 人，更新 {updated} 人，"
    "停用 {deactivated} 人，未变 {unchanged} 人；"
    "新建地名 {places_added} 个，新建单位 {units_added} 个。"
)
ROSTER_PROBLEMS = "共 {count} 处问题，名册未做任何改动。请改好表格后重新上传。"
ROSTER_PROBLEM_ROW = "行"
ROSTER_PROBLEM_COLUMN = "列"
ROSTER_PROBLEM_MESSAGE = "问题"
ROSTER_APPLY = "确认导入"
ROSTER_CANCEL = "重新上传"
ROSTER_UPLOAD_GONE = "上传的文件已失效，请重新上传"
ROSTER_INVITE_TITLE = "邀请码"
ROSTER_INVITE_HELP = "干部、调度员、领导用一次性邀请码绑定微信（7 天有效）。"
ROSTER_WHO = "姓名或手机号"
ROSTER_MOVE = "给邻长/组长/片长换一个微信"
ROSTER_INVITE_BUTTON = "生成邀请码"
ROSTER_UNLOCK_TITLE = "解除绑定锁定"
ROSTER_UNLOCK_HELP = "一天内绑定失败太多次的姓名或手机号会被锁定到次日；核实身份后可在这里解锁。"
ROSTER_UNLOCK_BUTTON = "解锁"
ROSTER_FAILED_TODAY = "今天绑定失败的记录"
ROSTER_FAILURES = "失败 {count} 次"
ROSTER_LOCKED = "已锁定"
ROSTER_NONE_FAILED = "今天没有绑定失败的记录。"
ROSTER_MOVE_HINT = "只有给他换一个微信时（手机丢了、换了微信号）才勾选“{move}”再生成。"
