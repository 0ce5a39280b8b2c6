"""Every sentence the bot says to people, in one place so wording can be reviewed without logic."""

from __future__ import annotations

from typing import NamedTuple

from models.actions import Reason


class Usage(NamedTuple):
    """How a ticket command is written, for its refusals: 请写上工单号，例如：{example}."""

    example: str
    step: str = ""  # WRONG_STATE: 不能{step}
    name: str = ""  # NEEDS_TEXT: {name}要写{what}
    what: str = ""


HELP = (
    "您好，这里是镇“三长制”民生服务号。\n"
    "【邻长反映问题】直接发文字（可配照片、语音、位置），例如：\n"
    "“3组水渠堵了，十几户田放不进水”\n"
    "系统会立即回复工单号。\n"
    "【常用命令】\n"
    "我的 —— 查看我反映的问题\n"
    "查询 12 —— 查看12号工单进度\n"
    "我是谁 —— 查看绑定信息\n"
    "帮助 —— 显示本菜单"
)

HELP_CADRE = (
    "【干部命令】（工单号可写 12、#12、12号）\n"
    "签收 12｜进度 12 内容｜办结 12 结果说明\n"
    "退回 12 原因｜转办 12 姓名 说明｜延期 12 天数 原因\n"
    "待办 —— 我的未办结工单｜查看 12 —— 详情和经过"
)
HELP_DISPATCHER = (
    "【调度命令】\n"
    "派 12 姓名｜同意 12｜驳回 12 原因\n"
    "合并 12 10｜无效 12 原因｜待派 —— 待派工单和待审批申请"
)

WELCOME = (
    "欢迎关注！本号用于邻长、组长、片长反映群众急难愁盼问题。\n"
    "首次使用请先绑定：发送“绑定 姓名 手机号”，例如“绑定 张三 13800000000”。\n"
    "干部请发送“绑定 邀请码”。发送“帮助”查看更多。"
)

# ---------------------------------------------------------------- `grievance-bot serve`
SERVE_LISTENING = "grievance-bot 已启动：{url}/wechat（公众号）和 {url}/wecom（企业微信）"
DEV_BANNER = (
    "开发模式：没有设置微信凭据，本机使用开发凭据，保存在 {credentials}。\n"
    "  公众号     {url}/wechat   Token {wechat_token}\n"
    "  企业微信   {url}/wecom    Token {wecom_token}\n"
    "在另一个终端里这样和它说话：\n"
    "  grievance-bot chat --url {url} --as demo-openid 帮助\n"
    "上线前请设置 GRIEVANCE_ENV=production 和真实的凭据。"
)

INTERNAL_ERROR = "系统繁忙，您的消息没有处理成功，请过一分钟再发一次。"
# The database could not take the message: it is kept in the local spool and handled later.
SPOOLED = "已收到，稍后给您工单号。"
SPOOL_FULL = "系统正在维护，暂时收不下新消息，请过半小时再发一次。"
# What a spooled message came to, sent once the database is back: "您 10:03 发的“路灯坏了”："
SPOOL_REPLY = "您{time}发的“{what}”：\n{reply}"
SPOOL_FAILED = "您{time}发的“{what}”没能处理成功，请再发一次。"
# {time} and {what} of the two above: when it arrived, and a message with no words of its own.
SPOOL_ARRIVED = "{month}月{day}日{time}"
SPOOL_SOME_MESSAGE = "消息"
# An outbox message's last error when a worker stopped in the middle of sending it and WeChat
# would not drop a second copy (customer-service messages): `outbox list --dead` shows it.
OUTBOX_UNCERTAIN = (
    "结果不明：发送途中进程中断，微信可能已经送达；请向收件人核实，没收到再用 outbox retry 重发"
)
OUTBOX_SENDING = "发送中（{via}，{since} 开始，第 {attempts} 次），结果未定"
# `grievance-bot spool …`, for whoever runs the server.
SPOOL_STATUS = (
    "暂存区 {folder}：{waiting} 条消息等待入库（上限 {limit}），最早一条 {oldest}；"
    "无法处理而搁置的 {rejected} 条（见 rejected.jsonl）。"
)
SPOOL_INGESTED = "入库 {ingested} 条，已入库过的 {repeats} 条，搁置 {rejected} 条。"
SPOOL_INGEST_BUSY = "另一个进程正在处理暂存区，稍后再试。"
SPOOL_DATABASE_DOWN = "数据库仍不可用，剩下的消息留在暂存区，稍后会自动入库。"


# ---------------------------------------------------------------- Tickets: intake
TICKET_CREATED = "已受理，工单号 #{id}\n【{category}】{place}{urgency}\n承办：{contact}\n{fixit}"
# The last line of TICKET_CREATED: only the corrections this ticket may need.
FIXIT = "有误可回复：{fixes}；撤回：撤回 #{id}"
FIX_SEPARATOR = "｜"
FIX_CATEGORY = "改 类别 {name}"
FIX_CATEGORY_ANY = "改 类别 类别名"
FIX_PLACE = "改 村 {place}"
FIX_URGENT = "改 紧急"
FIX_NOT_URGENT = "改 不急"
URGENT_MARK = "（紧急）"
# The assignee as a reporter is told of them: whom to call.
CONTACT = "{assignee}，电话 {phone}"
# A town unit's people named with their unit ("水利站负责人"), not the role alone.
UNIT_ROLE_NAMES = {"unit_head": "{unit}负责人", "unit_member": "{unit}工作人员"}
DRAFT_OPENED = "收到{kind}。请再发几个字说明是什么问题、在哪个组，例如：“3组路灯坏了”。"
DRAFT_STILL_WAITING = "工单 #{id} 还差几个字的说明，请直接发文字描述问题。"
ATTACHED = "已把{kind}补充到工单 #{id}。"
MEDIA_KINDS = {
    "image": "照片",
    "voice": "语音",
    "video": "视频",
    "shortvideo": "视频",
    "location": "位置",
    "link": "链接",
    "file": "文件",
}
THANKS_REPLY = "不客气！有群众急难愁盼的问题随时发给我们。"
GREETING_REPLY = "您好！有群众反映的问题直接发文字（可配照片）给我就行，发送“帮助”看用法。"
ACK_REPLY = "好的。"
RESOLVED_NEWS_REPLY = "好的，问题解决了就好！还有问题随时发给我们。"
LOGISTICS_REPLY = "这里登记群众反映的问题；开会、报表等工作安排请问村干部或镇党政办。"
FORWARDED_REPLY = "这里只登记群众反映的问题，转发的内容不作登记。"
NOT_UNDERSTOOD = (
    "没看明白您的意思。反映问题请直接说是什么问题、在哪个组，例如“3组路灯坏了”；"
    "发送“帮助”查看用法。"
)
# A message that may be a problem, but nothing in it says so: ask rather than drop it.
ASK_IS_PROBLEM = "是要反映问题吗？回复 1 是，2 不是"
ASK_DECLINED = "好的，这条不登记。有问题随时直接发给我们。"
QUESTION_PICK_ONE = "请回复 1 到 {count} 之间的数字。"
# (i15-parser) The parser is unsure of a new ticket's category or village: one line, numbered.
ASK_CATEGORY = "是哪一类问题？{choices}（回复数字）"
ASK_VILLAGE = "是哪个村的问题？{choices}（回复数字）"
ASK_CHOICE = "{number} {name}"
ASK_CHOICE_JOINER = "，"
NOT_A_REPORTER = "您的账号是干部账号，群众问题请让邻长反映；发送“帮助”查看干部命令。"

CORRECTION_HELP = (
    "更正的写法：\n改 类别 饮水\n改 村 张家村 3组\n改 紧急（或 改 不急）\n类别可写：{categories}"
)
CORRECTED = "已更正 #{id}：{what}\n现在：【{category}】{place}{urgency}，承办：{contact}"
CORRECTION_TOO_LATE = "#{id} 已经签收办理，不能再改了。需要补充的话请直接发消息说明。"
NOTHING_TO_CORRECT = "您最近没有可以更正的工单。"
UNKNOWN_CATEGORY = "没有“{word}”这个类别。类别可写：{categories}"
UNKNOWN_VILLAGE = "本镇没有“{word}”这个村，请检查村名。"
WITHDRAWN = "工单 #{id} 已撤回。"
CANNOT_WITHDRAW = "#{id} 已经在办理或已办结，不能撤回了。"
NOT_FOUND = "找不到您可以操作的 #{id} 号工单。"
NEED_NUMBER = "请写上工单号，例如：{example}"

# ---------------------------------------------------------------- Tickets: notifications
NOTIFY_ASSIGNED = (
    "【新工单 #{id}】{category}｜{place}{urgency}\n{summary}\n"
    "反映人：{reporter}\n签收请回复：签收 {id}"
)
NOTIFY_REOPENED = (
    "【重办 #{id}】群众不满意：{reason}\n{summary}\n请重新办理，办结后回复：办结 {id} 结果说明"
)
NOTIFY_ACCEPTED = "您反映的 #{id}（{summary}）已由{assignee}签收，正在办理。"
NOTIFY_PROGRESS = "#{id} 进展：{note}"
NOTIFY_RESOLVED = (
    "#{id}（{summary}）已办结：{result}\n"
    "请评价：回复“满意 {id}”“基本满意 {id}”或“不满意 {id} 原因”。"
)
NOTIFY_RESOLVED_FOLLOWER = "您反映的问题（已并入 #{id}：{summary}）已办结：{result}"
NOTIFY_RETURNED_TO_REPORTER = "#{id} 正在重新安排承办人，请耐心等待。"
NOTIFY_REASSIGNED_TO_REPORTER = "#{id} 已改由{assignee}承办。"
NOTIFY_RETURN_REQUEST = (
    "【退单 #{id}】{assignee}申请退回：{reason}\n{summary}\n"
    "同意请回复：同意 {id}（将重新派单）；不同意：驳回 {id} 原因"
)
NOTIFY_EXTENSION_REQUEST = (
    "【延期申请 #{id}】{assignee}申请延期{days}个工作日：{reason}\n"
    "同意请回复：同意 {id}；不同意：驳回 {id} 原因"
)
NOTIFY_REQUEST_REJECTED = "您对 #{id} 的{request}申请被驳回：{reason}\n请继续办理。"
NOTIFY_EXTENSION_APPROVED = "您对 #{id} 的延期申请已同意，新的办结期限：{due}。"
NOTIFY_WITHDRAWN = "#{id} 已被反映人撤回，无需再办理。"
NOTIFY_TAKEN_OFF_MERGED = "#{id} 与 #{target} 是同一问题，已并入 #{target}，您无需再办理 #{id}。"
NOTIFY_TAKEN_OFF_INVALID = "#{id} 已被调度员认定为无效（{reason}），无需再办理。"
NOTIFY_TAKEN_OFF_REROUTED = "#{id} 经反映人更正地点或类别后已改派他人，您无需再办理。"
NOTIFY_TAKEN_OFF_REASSIGNED = "#{id} 已由调度员改派他人，您无需再办理。"
NOTIFY_INVALID = "您反映的 #{id} 被认定为无效：{reason}"
NOTIFY_MERGED = "您反映的 #{id} 与 #{target} 是同一问题，已合并，后续进展按 #{target} 通知您。"

# ---------------------------------------------------------------- Tickets: cadre and dispatcher
ACCEPTED = "已签收 #{id}。办结时回复：办结 {id} 结果说明"
PROGRESS_RECORDED = "已记录 #{id} 的进展，并告知反映人。"
RESOLVED = "#{id} 已办结，已请反映人评价。"
RETURN_REQUESTED = "#{id} 的退回申请已交调度员。"
TRANSFERRED = "#{id} 已转给{name}。"
EXTENSION_REQUESTED = "#{id} 延期{days}个工作日的申请已交调度员审批。"
ASSIGNED_BY_DISPATCHER = "#{id} 已派给{name}。"
# How a recorded route reads (models/routing.py writes "step:detail").
ROUTE_NAMES = {
    "override": "{detail}的指定承办人",
    "unit_head": "{detail}负责人",
    "village_cadre": "{detail}村干部",
    "liaison": "{detail}包村干部",
    "dispatcher": "调度员",
    "transfer": "{detail}转办",
    "fallback": "兜底派单",
}
ROUTE_BY_DISPATCHER = "调度员{detail}指派"  # dispatcher:肖德石, a 派 by hand
ROUTE_DRAFT = "只发了照片或语音，转调度员"  # dispatcher:draft
ROUTE_OTHER = "其他方式派单"
ROUTED_TO = "{name}（{route}）"  # a timeline note "曾香军｜unit_head:水利站"
ATTACHMENT_KIND = "附件"
EVENT_OTHER = "其他"
# The timeline's steps (ticket_event.kind), for 查看 and `grievance-bot ticket show`.
EVENT_NAMES = {
    "created": "受理",
    "completed": "补充文字",
    "assigned": "派单",
    "rerouted": "重新派单",
    "transferred": "转办",
    "accepted": "签收",
    "progress": "进展",
    "resolved": "办结",
    "returned": "申请退回",
    "return_approved": "同意退回",
    "return_rejected": "驳回退回",
    "extension_requested": "申请延期",
    "extension_approved": "同意延期",
    "extension_rejected": "驳回延期",
    "rated": "评价",
    "reopened": "不满意重办",
    "reassigned": "重办派单",
    "corrected": "更正",
    "withdrawn": "撤回",
    "invalid": "认定无效",
    "merged": "合并",
    "attachment": "补充附件",
    "draft_timeout": "转调度员",
    "closed": "结案",
    "reminded": "提醒",
    "escalated": "督办",
}
RETURN_APPROVED = "已同意退回，#{id} 重新派给{name}（{route}）。"
EXTENSION_APPROVED = "已同意 #{id} 延期，新的办结期限：{due}。"
REQUEST_REJECTED = "已驳回 #{id} 的{request}申请。"
NO_PENDING_REQUEST = "#{id} 没有待审批的申请。"
MERGED = "#{id} 已合并到 #{target}。"
MARKED_INVALID = "#{id} 已标记为无效。"
NEEDS_TEXT = "{command}要写{what}，例如：{example}"
MERGE_TARGET_WRONG_STATE = "#{id} 现在是“{state}”状态，不能作为合并目标。"
WRONG_STATE = "#{id} 现在是“{state}”状态，不能{action}。"
PERSON_NOT_FOUND = "名册里找不到可以承办的“{name}”，请写全名或手机号。"
PERSON_AMBIGUOUS = "名册里有几位叫“{name}”的，请改写手机号：{phones}"
NOT_A_HANDLER = "这个命令只有承办干部和调度员可以用。"
NOT_A_DISPATCHER = "这个命令只有调度员和领导可以用。"
NOTHING_TO_DO = "目前没有待办工单。"
QUEUE_EMPTY = "目前没有待派的工单和待审批的申请。"
TODO_HEADER = "您的待办（{count}件，超期在前）："
QUEUE_HEADER = "待派工单和待审批申请："
OVERDUE_MARK = "【超期】"
REOPENED_MARK = "【重办】"
EXTENSION_ALREADY_PENDING = "#{id} 已有一个延期申请在等调度员审批，请等审批后再申请。"
EXTENSION_TOO_LONG = "延期最多{max}个工作日。"

# ---------------------------------------------------------------- Tickets: reporter
MY_TICKETS_HEADER = "您最近反映的问题："
# 待办 is a cadre's command; a 邻长 who sends it gets what they still wait for.
REPORTER_TODO_HEADER = "您反映的问题中还没结案的有{count}件（“我的”看全部，“查询 12”看详情）："
REPORTER_TODO_NONE = "您反映的问题都已结案，没有待办。发送“我的”查看全部；有新问题直接发文字。"
NO_TICKETS = "您还没有反映过问题。直接发文字描述问题就可以。"
TICKET_STATUS = "#{id}【{category}】{place}\n{summary}\n状态：{state}{assignee}{extra}"
STATUS_ASSIGNEE = "\n承办：{contact}"
STATUS_MERGED = "已并入 #{target}（同一问题），#{target} {state}"
STATUS_RESULT = "\n结果：{result}"
# After 不满意 the ticket is handled again: its result is the earlier one, not the answer.
STATUS_EARLIER_RESULT = "\n上次办理结果（不满意，正在重办）：{result}"
RATING_THANKS = "感谢评价！#{id} 已结案。"
RATING_UNSATISFIED = "已收到您的意见，#{id} 已退回{assignee}重新办理。"
RATING_WHICH = "您有几件待评价的工单，请写工单号，例如：满意 {id}"
RATING_NONE = "您没有待评价的工单。"
RATING_NEEDS_REASON = "请说一下不满意的原因，例如：不满意 {id} 路还是没修好"
DRAFT_SUMMARY = "（只发了照片或语音，没有补充文字）"
DRAFT_TIMEOUT_NOTE = "一天内没有补充文字，转调度员处理"

# ---------------------------------------------------------------- Deadlines and follow-up
# Filled in by models/sla.py and models/followup.py through the bundles bot/scheduler.py builds.
# Placeholders: {id} ticket number, {summary}, {place} village (or the ticket's place), {assignee},
# {supervisor} (who was told), {deadline} (签收 or 办结), {due} the deadline in Asia/Shanghai,
# {names} (who was told, for timeline notes), {days} (回访: days since the rating was asked).
SLA_DEADLINE_ACK = "签收"
SLA_DEADLINE_RESOLVE = "办结"
SLA_DUE = "{month}月{day}日{hour:02d}:{minute:02d}"
# A deadline in chat and CLI lines (handlers/views.py local_due): midnight reads 24:00.
DUE_AT = "{month}月{day}日 {hour:02d}:{minute:02d}"
SLA_REMINDER_ACK = (
    "【时限提醒 #{id}】{place}｜{summary}\n请在{due}前签收，时间已过大半。签收请回复：签收 {id}"
)
SLA_REMINDER_RESOLVE = (
    "【时限提醒 #{id}】{place}｜{summary}\n请在{due}前办结，时间已过大半。"
    "办结请回复：办结 {id} 结果说明"
)
SLA_OVERDUE = (
    "【已超时 #{id}】{place}｜{summary}\n{deadline}期限{due}已过，已报告{supervisor}，请尽快办理。"
)
SLA_ESCALATION = (
    "【超时上报 #{id}】{assignee}承办的工单{deadline}期限{due}已过：\n{place}｜{summary}\n"
    "请督促办理。"
)
SLA_LEADER = (
    "【督办 #{id}】{deadline}期限{due}已过，已报告{supervisor}仍未办理：\n"
    "{place}｜{summary}\n承办人：{assignee}。请领导督办。"
)
SLA_NOTE_REMINDED = "{deadline}期限{due}将到，已提醒{names}"
SLA_NOTE_ESCALATED = "{deadline}期限{due}已过，已报告{names}"
SLA_NOTE_LEADER = "{deadline}期限{due}已过，已报请{names}督办"
SLA_NOBODY = "（名册里没有可通知的人）"
RATING_REMINDER = (
    "您反映的 #{id}（{summary}）已经办结，还没收到您的评价。\n"
    "请回复：“满意 {id}”“基本满意 {id}”或“不满意 {id} 原因”。"
)
RATING_AUTO_CLOSED = (
    "您反映的 #{id}（{summary}）办结{days}天未收到评价，已结案（未评价）。"
    "问题如果还没解决，请直接发消息再反映。"
)
RATING_AUTO_CLOSED_NOTE = "办结后{days}天未评价，自动结案（未评价，不计入满意）"

# ---------------------------------------------------------------- `grievance-bot ticket show`
CLI_TIME = "%Y-%m-%d %H:%M"  # every time the office CLI prints, in Asia/Shanghai
CLI_DATE = "%Y-%m-%d"
CLI_NO_TICKET = "没有 #{id} 号工单。"
SHOW_STATE = "状态：{state}　紧急程度：{urgency}"
SHOW_PEOPLE = "反映人：{reporter}　承办：{assignee}　派单路径：{route}"
SHOW_PERSON = "{name}（{phone}）"
SHOW_TIMES = "受理 {created}　派单 {assigned}　签收 {accepted}　办结 {resolved}　结案 {closed}"
SHOW_DEADLINES = "签收期限 {ack}　办结期限 {resolve}"
SHOW_HOUSEHOLDS = "涉及户数：{households}"
SHOW_MERGED = "已并入 #{target}"
SHOW_RESULT = "办理结果：{result}"
SHOW_ATTACHMENTS = "附件（{count}）："
SHOW_ATTACHMENT = "  {kind}　{state}　{at}"
SHOW_DOWNLOADED = "已下载：{file}"
SHOW_NOT_DOWNLOADED = "未下载"
SHOW_DOWNLOAD_FAILED = "未下载（{error}）"
SHOW_LOCATION = "  位置　{lat}, {lon} {label}　{at}"
SHOW_TIMELINE = "经过："
SHOW_SYSTEM = "系统"


# ---------------------------------------------------------------- `grievance-bot jobs list`
JOB_NAMES = {
    "sla_sweep": "时限提醒和超时上报",
    "rating_followup": "回访跟进",
    "drafts": "未补充说明的照片转调度员",
    "weekly_digest": "每周推送",
}
JOB_COLUMNS = ("任务", "内容", "时间", "下次运行", "上次时段", "结果", "完成时间", "说明")
JOB_EVERY = "每{minutes}分钟"
JOB_WEEKLY = "每周{weekday} {hour:02d}:{minute:02d}"
WEEKDAYS = ("一", "二", "三", "四", "五", "六", "日")
JOB_NEVER = "从未运行"
JOB_STATUS = {"done": "完成", "failed": "失败", "running": "运行中"}
# What a run did, kept with the run and shown by `jobs list` and `jobs run`.
JOB_NOTE_SWEEP = "提醒{reminded}次，超时上报{escalated}次，督办{leader}次{more}"
JOB_NOTE_FOLLOWUP = "再次请评价{asked_again}件，未评价结案{closed}件{more}"
JOB_NOTE_MORE = "（还有没处理完的，下一时段接着办）"
JOB_NOTE_DRAFTS = "{released}件只有照片或语音的草稿转调度员"
JOB_NOTE_DIGEST = "推送干部{cadres}人、调度员和领导{overseers}人，共{messages}条消息"


# ---------------------------------------------------------------- Binding

BIND_HOW = (
    "您还没有绑定身份，暂时不能反映问题。\n"
    "邻长、组长、片长请发送：绑定 姓名 手机号\n"
    "例如：绑定 张三 13800000000\n"
    "村干部、站所干部、调度员和领导请发送：绑定 邀请码（6位数字，向镇党政办索取）。"
)
BIND_USAGE = (
    "绑定的格式是：绑定 姓名 手机号，例如“绑定 张三 13800000000”。\n"
    "干部请发送：绑定 6位邀请码，例如“绑定 123456”。"
)
BIND_OK = (
    "绑定成功！{name}，您是{place}的{roles}。\n"
    "以后直接发文字、照片或语音反映问题就行。发送“帮助”查看用法。"
)
BIND_OK_HANDLER = "绑定成功！{name}（{roles}）。派给您的工单会发到这里。发送“帮助”查看用法。"
BIND_ALREADY = "您已经绑定为{name}，不用重复绑定。发送“我是谁”查看绑定信息。"
BIND_SENDER_ELSEWHERE = "这个微信已绑定为{name}。如需改绑，请先发送“解绑”，再重新绑定。"
# One answer for every name+phone that does not bind, so it never tells whether a name or a
# phone is on the roster.
BIND_NO_MATCH = (
    "没有核对上：名册中没有与这个姓名和手机号一致、且可以绑定的邻长、组长或片长。"
    "请检查后重发，姓名要与名册一致，手机号是11位。\n"
    "如果确认无误仍不成功（比如换了微信），请联系村干部或镇党政办。干部请用邀请码绑定。"
)
BIND_BAD_CODE = "邀请码不对或已失效（每个邀请码只能用一次，7天内有效）。请向镇党政办重新索取。"
BIND_TRIES_LEFT = "今天还可以再试{left}次。"
BIND_RATE_LIMITED = "今天绑定失败的次数太多，请明天再试，或联系村干部、镇党政办核对名册。"
# Too many failures naming this name or phone (from any WeChat): the office lifts it with
# `grievance-bot roster unlock`. Read the same whether or not the name or phone is on the roster.
BIND_TARGET_LOCKED = (
    "这个姓名或手机号今天核对失败的次数太多，为防止有人冒用，已暂停用它绑定。"
    "如果是您本人，请联系村干部或镇党政办核实后解锁。"
)
# Too many failures of everybody together: binding pauses for all.
BIND_PAUSED = (
    "这段时间绑定核对失败的太多，为防止有人冒用身份，绑定暂停到{until}（北京时间）。"
    "请到时再试；着急的话请联系村干部或镇党政办。"
)
BIND_PAUSED_TODAY = "今天{time}"
BIND_PAUSED_LATER = "{month}月{day}日{time}"
# An invite code moved the person to a new WeChat: the new one is told, the old one gets this.
BIND_MOVED_NOTE = "\n原来绑定的微信已解除绑定，并已收到通知。"
BIND_MOVED_NOTICE = (
    "这个微信已不再绑定为{name}：{time}（北京时间）有人用镇党政办发的邀请码在另一个微信上绑定了"
    "{name}，以后{name}的工单和通知都发到那个微信。如果不是您本人或镇党政办安排的，请马上联系"
    "镇党政办。"
)
# The office removed the binding (grievance-bot roster unbind): the old WeChat gets this.
UNBOUND_BY_OFFICE_NOTICE = (
    "镇党政办已解除这个微信与{name}的绑定（{time}，北京时间），这个微信不再收到{name}的工单和"
    "通知。如有疑问，请联系镇党政办。"
)
WHOAMI = "您已绑定：{name}\n身份：{roles}\n所在：{place}\n手机：{phone}{extra}"
WHOAMI_UNIT = "\n单位：{unit}"
WHOAMI_COVERS = "\n负责村：{villages}"
WHOAMI_WECHAT_FOOTER = "\n如需解除绑定，发送“解绑”。"
WHOAMI_WECOM_FOOTER = "\n企业微信账号：{userid}（按名册自动识别）"
UNBIND_OK = "已解除绑定（{name}）。需要时可以重新发送“绑定 姓名 手机号”。"
UNBIND_NONE = "这个微信还没有绑定，不用解绑。"
WECOM_NO_UNBIND = "企业微信账号按名册自动识别，不能在这里解绑；如有变动，请联系镇党政办修改名册。"
WECOM_ALREADY = "您的企业微信账号已对应名册中的{name}，不用绑定。发送“我是谁”查看。"
WECOM_UNKNOWN = (
    "您的企业微信账号不在本镇名册中，暂时无法使用。"
    "请联系镇党政办把企业微信账号登记到名册，或索取邀请码后发送“绑定 邀请码”。"
)


# ---------------------------------------------------------------- Roster (grievance-bot roster)
# What the office reads after invite, unlock and unbind.
ROSTER_NOBODY = "名册中没有在岗的“{who}”。"
ROSTER_SEVERAL = "有 {count} 个人叫“{who}”，请改用手机号："
ROSTER_SEVERAL_LINE = "  {name}  {phone}  {place}"
ROSTER_INVITE_CODE = "{name}（{phone}）的邀请码：{code}"
ROSTER_INVITE_EXPIRES = "有效期至 {expires}（北京时间），只能用一次；之前发的邀请码已作废。"
ROSTER_INVITE_HOW = "请本人在公众号或企业微信里发送：绑定 {code}"
ROSTER_INVITE_REPORTER = (
    "{name}是{roles}：邻长、组长、片长用“绑定 姓名 手机号”自己绑定，不需要邀请码。\n"
    "只有给他换一个微信时（手机丢了、换了微信号，旧微信又解不了绑）才用邀请码，请加 --move 再运行"
    "一次。新微信用邀请码绑定后，原来的微信自动解除绑定并收到通知。"
)
ROSTER_INVITE_MOVES = (
    "注意：{name}现在已绑定一个微信；用这个邀请码绑定后，原来的微信会解除绑定并收到通知。"
)
ROSTER_UNLOCKED = "已解锁{what}：清除最近一天的绑定失败 {count} 次，现在可以重新绑定。"
ROSTER_NOTHING_LOCKED = "{what}最近一天没有绑定失败的记录，不用解锁。"
ROSTER_UNLOCK_WHO = "“{who}”"
ROSTER_UNLOCK_SENDER = "微信 {sender}"
ROSTER_UNLOCK_EVERYONE = "所有人"
ROSTER_UNLOCK_USAGE = "请写要解锁的姓名或手机号，或用 --sender OPENID、--all。"
ROSTER_UNBOUND = (
    "已解除{name}（{phone}）的公众号微信绑定，并通知了原来的微信。"
    "本人可以重新发送“绑定 姓名 手机号”；干部请用新的邀请码（roster invite）绑定。"
)
ROSTER_UNBIND_NONE = "{name}（{phone}）没有绑定公众号微信，不用解绑。"
ROSTER_UNBIND_WECOM = "{name}的企业微信账号（{userid}）按名册识别，要更改请修改名册后重新导入。"

# ---------------------------------------------------------------- Reports (grievance-bot report)
# What the report a clerk prints or hands in says around the figures: the table's titles, the
# 台账's columns. The headline sentence itself is a template in config/figures.toml.
REPORT_SCOPE = "统计期：{start}至{end}（截至{as_of}）　范围：{place}"
REPORT_TOTALS = "收集{collected}件，已解决{resolved}件，超期未办结{overdue}件。"
REPORT_RATES = (
    "解决率{resolution_rate}　响应率{response_rate}　按时办结率{on_time_rate}　"
    "满意率{satisfaction_rate}　重办率{reopen_rate}　退单率{return_rate}"
)
REPORT_MORE = (
    "办结用时中位数{median_hours}小时　参与率{participation_rate}"
    "（{neighbour_heads}名邻长中{reporters}人反映过问题）　综合得分{score}"
)
REPORT_BY_TITLE = {
    "zone": "按片区",
    "village": "按村（社区）",
    "category": "按问题类别",
    "assignee": "按承办人",
}
REPORT_KEY_COLUMN = {
    "zone": "片区",
    "village": "村（社区）",
    "category": "问题类别",
    "assignee": "承办人",
}
REPORT_TOTAL_ROW = "合计"
REPORT_COLUMNS = {
    "collected": "收集",
    "resolved": "已解决",
    "resolution_rate": "解决率",
    "response_rate": "响应率",
    "on_time_rate": "按时办结率",
    "satisfaction_rate": "满意率",
    "reopen_rate": "重办率",
    "return_rate": "退单率",
    "overdue": "超期未办结",
    "median_hours_to_resolve": "办结用时中位数（小时）",
    "reporters": "反映人数",
    "neighbour_heads": "邻长人数",
    "participation_rate": "参与率",
    "score": "综合得分",
}
REPORT_UNKNOWN_PLACE = "没有叫“{name}”的地方。"
REPORT_AMBIGUOUS_PLACE = (
    "叫“{name}”的地方不止一个：{choices}。请连上级一起写，例如 --place {example}"
)
REPORT_BAD_PERIOD = "统计期不对：--from 要早于 --to。"
REPORT_XLSX_WRITTEN = (
    "台账已写入 {path}：汇总表，台账表 {rows} 件"
    "（含并入其他工单的重复件 {merged} 件，不计入收集）。"
)
REPORT_SUMMARY_SHEET = "汇总"
# Below the summary table: what each figure counts, and how the 综合得分 is made. The README's
# "Figures" section repeats these sentences word for word (tests/bot/test_cli_report.py checks).
REPORT_DEFINITIONS_TITLE = "统计口径"
REPORT_DEFINITIONS = {
    "collected": (
        "收集：统计期内受理的工单，不含草稿、无效件和重复件（重复件并入另一件，只算一次）。"
    ),
    "resolved": (
        "已解决：收集件中现在“已办结”或“已关闭”的（重办中的不算，超时未评价自动结案的算）。"
    ),
    "resolution_rate": "解决率 = 已解决 ÷ 收集。",
    "response_rate": "响应率 = 按时签收的件数 ÷（签收期限已到的件数 + 已签收的件数）。",
    "on_time_rate": "按时办结率 = 办结不晚于办结期限的已解决件 ÷ 已解决件。",
    "satisfaction_rate": "满意率 =（满意 + 基本满意）÷ 作出的评价（每次“不满意”都算一次评价）。",
    "reopen_rate": "重办率 = 因“不满意”重办过的件数 ÷ 办结过的件数。",
    "return_rate": (
        "退单率 = 退单被调度员同意过（回复“同意”，或改派给别人）的件数 ÷ 派过单的件数；"
        "退回被驳回的、还在等调度员决定的，不算退单。"
    ),
    "participation_rate": "参与率 = 统计期内反映过问题的邻长人数 ÷ 名册上在职的邻长人数。",
}
REPORT_SCORE_TITLE = "综合得分"
# {terms} the weighted rates joined by " + ", {total} the sum of their weights.
REPORT_SCORE_FORMULA = "综合得分 =（{terms}）÷ {total}（权重之和）× 100，满分100。"
REPORT_SCORE_TERM = "{rate}×{weight}"
REPORT_SCORE_TERM_LOWER = "（1 - {rate}）×{weight}"
REPORT_SCORE_NOTES = (
    "重办率、退单率越低越好，按（1 - 比率）计分。",
    "某项比率没有数据（分母为0）时，这一项不计分，它的权重也从权重之和里减去。",
    "权重写在 config/figures.toml 的 [score] 里，镇里可以改；权重为0的比率不计分。",
)
REPORT_LEDGER_SHEET = "台账"
LEDGER_COLUMNS = (
    ("number", "工单号", 8),
    ("created_at", "受理时间", 17),
    # A 转办, a re-route or a 重办 assigns a ticket again: the first and the latest of each.
    ("first_assigned_at", "首次派单时间", 17),
    ("assigned_at", "最近派单时间", 17),
    ("accepted_at", "首次签收时间", 17),
    ("last_accepted_at", "最近签收时间", 17),
    ("resolved_at", "办结时间", 17),
    ("closed_at", "结案时间", 17),
    ("ack_due_at", "签收期限", 17),
    ("resolve_due_at", "办结期限", 17),
    ("reporter", "反映人", 10),
    ("reporter_phone", "反映人电话", 14),
    ("town", "镇", 10),
    ("village", "村（社区）", 12),
    ("group", "组", 6),
    ("category", "问题类别", 10),
    ("urgency", "紧急程度", 8),
    ("summary", "问题摘要", 40),
    ("assignee", "承办人", 10),
    ("state", "状态", 8),
    ("duplicate_of", "并入工单", 8),
    ("result", "办理结果", 40),
    ("rating", "群众评价", 10),
    ("reopen_count", "重办次数", 8),
    ("return_count", "退单次数", 8),
)
LEDGER_URGENCY = {True: "紧急", False: "一般"}
LEDGER_RATINGS = {
    "satisfied": "满意",
    "basic": "基本满意",
    "unsatisfied": "不满意",
    "unrated": "未评价（自动结案）",
}

# ---------------------------------------------------------------- Weekly status push
DIGEST_CADRE_HEADER = "【每周待办】{name}，您有{count}件工单未办结，其中超期{overdue}件："
DIGEST_CADRE_LINE = "#{id} {place}【{category}】期限{due}{late}"
DIGEST_MORE = "……另有{count}件，回复“待办”查看。"
DIGEST_CADRE_FOOTER = "签收回复“签收 工单号”，办结回复“办结 工单号 结果”。"
DIGEST_OVERSEER_HEADER = "【每周通报】{name}：{place}民生问题办理情况"
DIGEST_THIS_WEEK = "本周"
DIGEST_CUMULATIVE = "累计"
DIGEST_FIGURES = (
    "{label}：收集{collected}件，已解决{resolved}件，解决率{resolution}，"
    "响应率{response}，满意率{satisfaction}"
)
DIGEST_OVERDUE_HEADER = "超期未办结{count}件："
DIGEST_OVERDUE_LINE = "#{id} {place} 承办{assignee} 期限{due}"
DIGEST_TOP_VILLAGES = "未办结最多的村：{list}"
DIGEST_TOP_CATEGORIES = "未办结最多的类别：{list}"

# ---------------------------------------------------------------- Scheduled jobs (jobs run)
# `grievance-bot jobs run NAME --now … [--dry-run]`: {job} the job's id, {slot} its slot in
# Asia/Shanghai, {now} the moment asked for, {ahead} how far ahead of the clock it is.
JOBS_RUN_FUTURE_REFUSED = (
    "--now {now} 比现在晚{ahead}：不能提前替将来的时段发消息、占用时段。"
    "想先看看会发些什么，请加 --dry-run。"
)
JOBS_AHEAD_MINUTES = "{n}分钟"
JOBS_AHEAD_HOURS = "约{n}小时"
JOBS_AHEAD_DAYS = "约{n}天"
JOBS_DRY_RUN_HEADER = (
    "试运行 {job}（时段 {slot}，北京时间）：不占用时段，不写入任何数据，会发出{count}条消息。"
)
JOBS_DRY_RUN_MESSAGE = "—— 发给 {person}（{kind}）——\n{text}"
JOBS_DRY_RUN_NOTE = "作业记录：{note}"
JOBS_DRY_RUN_MISSED = "试运行 {job}（时段 {slot}，北京时间）：这个时段当天已过，到时也不会补发。"


# ---------------------------------------------------------------- Tickets: how commands are written
ACCEPT_USAGE = Usage("签收 12", step="签收")
PROGRESS_USAGE = Usage("进度 12 已联系施工队", "记录进展", "进度", "内容")
RESOLVE_USAGE = Usage("办结 12 已派人修好", "办结", "办结", "结果说明")
RETURN_USAGE = Usage("退回 12 不属于本村", "退回", "退回", "原因")
TRANSFER_USAGE = Usage("转办 12 张三", "转办")
EXTEND_USAGE = Usage("延期 12 3 等材料到货", "申请延期", "延期", "天数和原因")
VIEW_USAGE = Usage("查看 12")
SEND_TO_USAGE = Usage("派 12 张三", "派单")
APPROVE_USAGE = Usage("同意 12")
REJECT_USAGE = Usage("驳回 12 属于本村范围", name="驳回", what="原因")
MERGE_USAGE = Usage("合并 12 10", "合并")
INVALIDATE_USAGE = Usage("无效 12 重复发送", "标记无效", "无效", "原因")
QUERY_USAGE = Usage("查询 12")
WITHDRAW_USAGE = Usage("撤回 #12")

# Why a ticket action changed nothing (models/actions.py Reason), as the chat says it. Commands
# word some reasons their own way (handlers/cadre.py, reporter.py, intake.py: `refusals=`).
REFUSALS: dict[Reason, str] = {
    Reason.not_allowed: NOT_A_HANDLER,
    Reason.not_found: NOT_FOUND,
    Reason.wrong_state: WRONG_STATE,
    Reason.needs_text: NEEDS_TEXT,
    Reason.too_long: EXTENSION_TOO_LONG,
    Reason.pending_request: EXTENSION_ALREADY_PENDING,
    Reason.no_pending_request: NO_PENDING_REQUEST,
    Reason.unknown_person: PERSON_NOT_FOUND,
    Reason.ambiguous_person: PERSON_AMBIGUOUS,
    Reason.bad_target: MERGE_TARGET_WRONG_STATE,
    Reason.nothing_to_rate: RATING_NONE,
    Reason.which_ticket: RATING_WHICH,
    Reason.nothing_to_correct: NOTHING_TO_CORRECT,
    Reason.unknown_category: UNKNOWN_CATEGORY,
    Reason.unknown_village: UNKNOWN_VILLAGE,
}
# A request's kind as the people deciding it say it.
REQUEST_NAMES = {"return": "退回", "extension": "延期"}

# ---------------------------------------------------------------- Small pieces of other sentences
LIST_SEPARATOR = "、"
DASH = "—"
UNKNOWN_PLACE = "未知地点"
GROUP = "{number}组"
HOME_PLACE = "{village} {number}组"  # 改 村 张家村 3组, offered after a ticket is created
NOT_DECIDED = "待定"
PERSON_WITH_ROLES = "{name}（{roles}）"
PERSON_WITH_PHONE = "{name}（{phone}）"
ROLES_WITH_TITLE = "{roles}（{title}）"
LOCAL_TIME = "{month}月{day}日 {time}"
QUEUE_EXTENSION_LINE = "#{id} 申请延期{days}个工作日：{reason}"
ONE_LINE = "#{id} {place}【{category}】{state}{due}{overdue}"
ONE_LINE_DUE = " 期限{due}"
DETAIL_HEAD = "#{id}【{category}】{place}{urgency}"
DETAIL_STATE = "状态：{state}　承办：{assignee}"
DETAIL_REPORTER = "反映人：{reporter}"
DETAIL_DEADLINES = "签收期限：{ack}　办结期限：{resolve}"
DETAIL_TIMELINE = "—— 经过 ——"
DETAIL_EVENT = "{time} {who} {name}{note}"
DETAIL_EVENT_NOTE = "：{note}"
SYSTEM_ACTOR = "系统"
