"""The words of models/: shared display names, and the roster sheet's surface (headers, messages).

Every Chinese string a person reads that models/ produces is here, so a wording change is one
edit: the names of states, roles and kinds of place (chat, CLI, sheets and the web show them),
the roster sheet's headers, template and import messages, and the pieces of the figures'
headline. The words the roster import *reads* (the clerks' spellings of headers and roles) are
here too, in their own section: the sheet is one surface, read and written.

Keys are the enums' values (a StrEnum member is equal to its value), so this module imports
nothing of the project and every model may use it.
"""

from __future__ import annotations

# ---------------------------------------------------------------- shared display names

# models.ticket.TicketState
STATE_NAMES: dict[str, str] = {
    "draft": "待补充",
    "submitted": "已受理",
    "assigned": "已派单",
    "accepted": "已签收",
    "in_progress": "办理中",
    "resolved": "已办结",
    "closed": "已结案",
    "returned": "已退回",
    "reopened": "重办",
    "invalid": "无效",
    "duplicate": "重复",
}
# models.person.Role
ROLE_NAMES: dict[str, str] = {
    "neighbour_head": "邻长",
    "group_head": "组长",
    "zone_head": "片长",
    "village_cadre": "村干部",
    "liaison": "包村干部",
    "unit_member": "站所成员",
    "unit_head": "站所负责人",
    "dispatcher": "调度员",
    "leader": "领导",
    "admin": "管理员",
}
# models.place.PlaceKind
PLACE_KIND_NAMES: dict[str, str] = {
    "county": "县",
    "town": "镇",
    "zone": "片区",
    "village": "村",
    "pian": "片",
    "group": "组",
}
# How a 村民小组 is named in the place tree (and shown everywhere a group is).
GROUP_NAME = "{number}组"
# Between the items of a list in one line or one cell: 张三、李四.
LIST_JOIN = "、"
# A name told apart from a namesake by where it is: 张家村（杏林镇）.
NAME_WITH_PLACE = "{name}（{where}）"

# ---------------------------------------------------------------- figures

# A date as the headline and the report write it when the template gives no format.
DAY = "{year}年{month}月{day}日"
# The 我{unit} of a report over a place of unknown kind.
DEFAULT_PLACE_UNIT = "镇"

# ---------------------------------------------------------------- SLA sweep (CLI and log line)

SLA_SWEEP_COUNTS = "{reminded} reminders, {escalated} escalations, {leader} 督办{more}"

# ---------------------------------------------------------------- roster sheet: written

# Canonical headers, in the order the template and the export write them.
ROSTER_HEADERS: dict[str, str] = {
    "name": "姓名",
    "phone": "手机号",
    "roles": "角色",
    "title": "职务",
    "zone": "片区",
    "village": "村(社区)",
    "group": "组",
    "unit": "单位",
    "covers": "负责村",
    "supervisor": "上级",
    "wecom": "企业微信账号",
}
ROSTER_SHEET = "名册"
ROSTER_HELP_SHEET = "填写说明"
# The template's example row; an import skips a row identical to it.
ROSTER_EXAMPLE_ROW: dict[str, str] = {
    "name": "张三",
    "phone": "13800000000",
    "roles": "邻长",
    "title": "",
    "zone": "大栗港片",
    "village": "大栗港村",
    "group": "3",
    "unit": "",
    "covers": "",
    "supervisor": "李四",
    "wecom": "",
}
ROSTER_TEMPLATE_NOTES = (
    "填写说明",
    "1. 第一行是表头，请不要改动；第二行是示例，可以删掉（不删也不会被导入）。",
    "2. 姓名、手机号、角色必填。手机号为11位手机号码，同一个手机号只能出现一次。",
    "3. 角色可填：邻长、组长、片长、村干部（村支书、村主任）、包村干部、站所负责人、站所成员、"
    "调度员、领导、管理员；一人多个角色用“、”隔开。",
    "4. 邻长、组长要填村(社区)和组；片长要填村(社区)；站所人员要填单位；包村干部要填负责村。",
    "5. 新的村(社区)要同时填片区，系统会自动建立；组直接写数字，如 3 或 3组。",
    "6. 负责村可填多个村，用“、”隔开；村干部不填时默认负责本村。",
    "7. 上级填上级的姓名（重名时填手机号），上级也必须在本表中。",
    "8. 表里没有的人会被停用（不会删除，历史工单仍保留）。重复导入同一张表不会产生重复人员。",
)

# ---------------------------------------------------------------- roster import: messages

# Where a problem is: 第3行“手机号”：…
PROBLEM_ROW = "第{row}行"
PROBLEM_COLUMN = "“{column}”"
PROBLEM_AT = "{where}：{message}"

IMPORT_FAILED = "导入失败，共 {count} 处问题，名册未做任何改动。"
IMPORT_DONE = (
    "导入成功：新增 {added} 人，更新 {updated} 人，停用 {deactivated} 人，"
    "未变 {unchanged} 人；新建地名 {places_added} 个，"
    "新建单位 {units_added} 个。"
)
IMPORT_SKIPPED_EXAMPLE = "（已跳过模板示例行）"

NO_HEADER_ROW = "找不到表头行：前10行里没有同时包含“姓名”和“手机号”的行（需要的列：{wanted}）。"
SAME_COLUMN_TWICE = "与“{other}”是同一列，请只保留一列。"
MISSING_COLUMN = "缺少“{header}”列。"
CSV_ENCODING_UNKNOWN = "无法识别 CSV 文件的编码，请在 Excel 中另存为“CSV UTF-8”或 .xlsx。"
XLSX_UNREADABLE = "无法打开 Excel 文件：{error}"
WRONG_FILE_TYPE = "只支持 .xlsx 和 .csv 文件，收到的是“{name}”。"

NAME_EMPTY = "姓名不能为空。"
NAME_TOO_LONG = "姓名太长（最多{limit}个字）。"
NAME_LIKE_FORMULA = "“{name}”不像姓名：姓名不能以 = + - @ 开头。"
PHONE_EMPTY = "手机号不能为空。"
PHONE_INVALID = "“{phone}”不是11位手机号码。"
ROLE_UNKNOWN = "不认识的角色“{unknown}”，可填：{known}。"
ROLE_EMPTY = "角色不能为空。"
TITLE_TOO_LONG = "职务太长（最多32个字）。"
GROUP_INVALID = "“{group}”不是组号，请写数字，如 3 或 3组。"
GROUP_WITHOUT_VILLAGE = "填了组，但没有填村(社区)。"
WECOM_INVALID = "“{wecom}”不像企业微信账号（只能有字母、数字和 _ . @ -）。"
ROLE_NEEDS_COLUMN = "角色是{role}，必须填写“{header}”。"
LIAISON_NEEDS_COVERS = "包村干部必须填写负责村。"
VILLAGE_CADRE_NEEDS_VILLAGE = "村干部必须填写村(社区)或负责村。"
COVERS_ONLY_FOR_CADRES = "只有村干部、包村干部填写负责村。"
VILLAGE_IN_ZONE = "“{zone}”片区"
VILLAGE_IN_NO_ZONE = "镇下，不属于任何片区"
VILLAGE_ZONE_MISMATCH = "“{village}”在{where}，与本行填的“{zone}”不一致。"
VILLAGE_UNKNOWN = "“{village}”不在本镇的村(社区)中；如果是新村，请同时填写片区。"
DUPLICATE_OF_ROW = "与第{row}行重复（{value}）。"
COVERED_VILLAGE_UNKNOWN = "负责村“{village}”不在本镇的村(社区)中。"
SUPERVISOR_PHONE_UNKNOWN = "上级手机号“{ref}”不在本表中。"
SUPERVISOR_UNKNOWN = "上级“{ref}”不在本表中。"
SUPERVISOR_NAMESAKES = "本表有{count}人叫“{ref}”（第{rows}行），请改填上级的手机号。"
SUPERVISOR_SELF = "上级不能是本人。"
SUPERVISOR_CYCLE = "第{rows}行的上级互相指向，形成了循环。"
PHONE_ELSEWHERE = "该手机号已登记在{place}的{name}名下（不在本镇）。"
WECOM_ELSEWHERE = "该企业微信账号已属于{place}的{name}（不在本镇）。"
NO_TOWN_YET = "数据库里还没有镇，请用 --town 指定镇名。"
SEVERAL_TOWNS = "数据库里有多个镇，请用 --town 指定导入哪个镇。"
EMPTY_SHEET = "表中没有人员：整张表为空时不导入，以免停用所有人。"

# ---------------------------------------------------------------- roster sheet: words read

# What clerks write above a column (space-separated), compared after header folding.
HEADER_WORDS: dict[str, str] = {
    "name": "姓名 名字 人员姓名 name",
    "phone": "手机号 手机 手机号码 电话 联系电话 电话号码 联系方式 手机/电话 phone",
    "roles": "角色 身份 人员类别 类别 人员类型",
    "title": "职务 职位",
    "zone": "片区 片区名称 所属片区",
    "village": "村(社区) 村/社区 村社区 村 社区 村名 所在村 所在村(社区) 村(居) 村居",
    "group": "组 村民小组 小组 组别 所在组 组号",
    "unit": "单位 所在单位 站所 部门 工作单位",
    "covers": "负责村 联系村 负责村/联系村 联系村/负责村 负责村(社区) 联系村(社区) 包村 所包村",
    "supervisor": "上级 上级领导 直接上级 上级姓名 上级(姓名或手机号)",
    "wecom": "企业微信账号 企业微信帐号 企业微信 企业微信id 企业微信userid 企微账号 userid",
}
# A header's remark that is not part of its name: 手机号(必填).
HEADER_REMARK = r"\((必填|选填|可选|可不填|非必填)\)"

# Role words a township clerk writes (space-separated), by models.person.Role value; "书记" and
# "主任" depend on the row (ROLE_SECRETARY, ROLE_DIRECTOR).
ROLE_WORDS: dict[str, str] = {
    "neighbour_head": "邻长",
    "group_head": "组长 村民小组长 小组长",
    "zone_head": "片长",
    "village_cadre": (
        "村干部 村支书 支书 村书记 村党支部书记 村主任 村委主任 村委会主任 村委委员 村支两委 "
        "社区书记 社区主任 社区干部"
    ),
    "liaison": "包村干部 联村干部 驻村干部 包村",
    "unit_member": "站所成员 站所干部 站所工作人员 单位成员 工作人员 成员",
    "unit_head": "站所负责人 单位负责人 负责人 站长 所长 院长 校长",
    "dispatcher": "调度员 调度",
    "leader": "领导 镇领导 党委书记 镇长 副镇长 分管领导 分管副镇长 副书记 人大主席",
    "admin": "管理员 系统管理员",
}
ROLE_SECRETARY = "书记"  # of the village on a row with a village, else the town's
ROLE_DIRECTOR = "主任"  # of the village, or of the unit, on a row naming one

# Several values in one cell.
CELL_LIST_SEPARATORS = r"[、，,/;；\s]+"
# Group numbers: 3组, 第3组, 三组, 第十二组, 3队.
GROUP_PREFIX = r"^第"
GROUP_SUFFIX = r"(村民小组|小组|组|队)$"
CHINESE_DIGITS: dict[str, int] = {
    "零": 0,
    "\u3007": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
CHINESE_TEN = "十"
# '大栗港' finds 大栗港村, '杨家嘴' finds 杨家嘴社区.
VILLAGE_ENDINGS = ("村", "社区")

# ---------------------------------------------------------------- unit names read

# The town's own units: '镇水利站' is the 水利站 of the town.
TOWN_PREFIX = "镇"
VILLAGE_PREFIX = "村"  # '村委会' is a village body, not a town unit
# What a town unit's name ends with (站, 所, 办…), in the taxonomy's `unit` labels.
UNIT_SUFFIXES = ("站", "所", "办", "院", "校", "中心", "局", "队", "室")
UNIT_LABEL_SEPARATORS = r"[（）()、，,/]+"


# ================================================================ ticket actions' timeline notes
# Timeline notes written by the ticket actions (models/actions.py). They are stored with the event
# and read back by the chat's 查看, the CLI's `ticket show` and the web page alike.
EXTENSION_REQUESTED_NOTE = "{days}个工作日：{reason}"
EXTENSION_APPROVED_NOTE = "{days}个工作日，新期限{month}月{day}日 {hour:02d}:{minute:02d}"
RETURN_APPROVED_NOTE = "同意退回"
MERGED_INTO_NOTE = "并入 #{target}"
MERGED_FROM_NOTE = "#{id} 并入"
REOPENED_NOTE = "重办，仍由原承办人办理"
WITHDRAWN_NOTE = "反映人撤回"
WITHDRAWN_REQUESTS_NOTE = "工单 #{id} 已撤回。"
RATING_NOTES = {"satisfied": "满意", "basic": "基本满意", "unsatisfied": "不满意"}
CORRECTED_CATEGORY = "类别改为{name}"
CORRECTED_PLACE = "地点改为{village}{group}"
CORRECTED_URGENT = "改为紧急"
CORRECTED_NOT_URGENT = "改为不急"
# An assignment's note: "曾香军｜unit_head:水利站" (who, and the route that chose them).
ASSIGNED_NOTE = "{name}｜{route}"
ASSIGNED_NOTE_SEPARATOR = "｜"
TRANSITION_REFUSED = "工单 #{id} 当前状态不能进行这一步"
