"""Every word the demo's people type and every line the demo commands print, in one place.

The only module of the demo with Chinese in it: what 邻长 write about their problems, how they
bind and rate, what cadres and the dispatcher answer on 企业微信, the names the generated roster
is drawn from, and the demo commands' messages. Words the bot itself says stay in handlers/texts.py.
"""

from __future__ import annotations

import re

CN_DIGITS = "零一二三四五六七八九"


def chinese_numeral(number: int) -> str:
    """1 → 一, 12 → 十二, 20 → 二十: how a group number is spoken."""
    if number < 10:
        return CN_DIGITS[number]
    tens, units = divmod(number, 10)
    head = "" if tens == 1 else CN_DIGITS[tens]
    return f"{head}十{CN_DIGITS[units] if units else ''}"


# Punctuation a voice note's recognition text does not have, and how it ends.
_UNSPOKEN = re.compile(r"[，,！!：]")


def spoken(text: str) -> str:
    """A written message as WeChat's speech recognition gives it back."""
    return _UNSPOKEN.sub("", text) + "。"


# ---------------------------------------------------------------- 邻长 report

# The problem itself, per category, with what the cadre writes when it is solved; "{at}" is where
# it is ("我们组", "3组", "隔壁五组"…). Problems without "{at}" concern one household (我家).
PROBLEMS: dict[str, tuple[tuple[str, str], ...]] = {
    "road": (
        ("{at}的路灯坏了好几盏，晚上黑漆漆的", "已更换路灯，现已正常亮灯"),
        (
            "{at}那段村道被拉砂的大车压烂了，坑坑洼洼的，摩托车都不好骑",
            "已修补路面，并约谈砂场限载",
        ),
        ("{at}通组路上有个大坑，一下雨全是泥巴", "已用碎石填平，并铺了水泥"),
        ("{at}转弯的地方冇得反光镜，前天又差点撞车", "已安装转弯反光镜"),
        ("去镇上的班车改了时间，{at}的人早上坐不到车", "已协调客运公司恢复早班车"),
        ("{at}的入户路还是泥巴路，想申请硬化", "已纳入今年通组路硬化计划，并告知反映人"),
        ("{at}路边的护栏被车撞坏了一截", "已修复护栏"),
        ("{at}石拱桥的桥栏断了，伢子上学天天要过", "已修复桥栏，并设了警示牌"),
        ("{at}的路灯杆歪了，灯也不亮", "已扶正灯杆，更换灯头"),
        ("{at}的水泥路裂了好长一条缝，路基往下沉", "已请施工队加固路基、修补路面"),
    ),
    "water": (
        ("{at}的自来水又停了，冇水吃", "已修复水管，恢复供水"),
        ("{at}的自来水水压太小，楼上放不出水", "已更换加压泵，水压恢复"),
        ("{at}的自来水是黄的，有股怪味，不敢喝", "已冲洗管网，水质检测合格"),
        ("{at}的主水管爆了，水一直在喷", "已抢修主水管"),
        ("{at}的水表坏了，水费算得不对", "已更换水表，水费重新核算"),
        ("{at}的老井干了，吃水要到好远去挑", "已安排送水，并接通自来水支管"),
        ("{at}的自来水管被挖机挖断了", "已接好水管，由施工方赔偿"),
        ("我家的自来水管子漏水，找不到人修", "已安排水管员上门修好"),
    ),
    "irrigation": (
        ("{at}的水渠被泥巴堵死了，田里放不进水", "已清淤疏通水渠，田里已能进水"),
        ("{at}的山塘漏水，塘里的水快干了，插秧怕冇得水", "已组织修补山塘漏点"),
        ("{at}的机埠抽水机坏了，田里灌不到水", "已维修抽水机，恢复灌溉"),
        ("{at}的渠道垮了一截，要修一下", "已修复垮塌的渠道"),
        ("{at}的排水沟淤塞了，一下大雨田就被淹", "已清淤排水沟"),
        ("天干了一个多月，{at}的田都干开坼了，要抗旱", "已调抽水机抗旱，田已灌上水"),
        ("{at}的山塘塘埂被冲了个口子", "已组织填补塘埂缺口"),
        ("{at}的灌溉渠被人截了，下面的田放不到水", "已协调上下游轮流放水"),
    ),
    "power": (
        ("{at}经常停电，一天停好几次", "已更换老化线路，供电恢复正常"),
        ("{at}的电压太低，电饭煲都煮不熟饭", "已调整变压器档位，电压恢复正常"),
        ("{at}的电线杆歪了，电线垂得好低", "已扶正电杆、收紧电线"),
        ("{at}的手机信号很差，打电话要跑到山上去", "已协调运营商增设信号基站"),
        ("{at}的宽带老是断网，伢子上网课都上不了", "已协调运营商更换光缆"),
        ("{at}的变压器嗡嗡响，晚上还冒火花", "已检修变压器，消除隐患"),
        ("{at}的村村响广播喇叭不响了", "已维修广播喇叭"),
        ("我家的电表走得特别快，电费比以前多了一倍", "已校验电表，多收的电费已退"),
    ),
    "environment": (
        ("{at}的垃圾桶好多天冇人清运，臭得不得了", "已清运垃圾，并增加清运次数"),
        ("{at}有人往河里倒垃圾，水都发黑了", "已打捞河面垃圾，劝导乱倒的人"),
        ("{at}旁边的养猪场粪水直排，臭气熏天", "已责令养猪场整改，停止直排"),
        ("{at}有人天天晚上烧垃圾烧塑料，呛得人受不了", "已劝导停止焚烧，并张贴告示"),
        ("{at}的公厕冇人打扫，脏得进不去", "已安排保洁员每天打扫"),
        ("{at}路边堆了好多建筑垃圾，冇人管", "已清理建筑垃圾"),
        ("{at}跳广场舞的音响开得太大，吵得睡不着", "已协调跳舞的人调小音量、晚九点前结束"),
        ("{at}的下水道堵了，污水流到路上", "已疏通下水道"),
    ),
    "social_security": (
        ("{at}有个五保户的低保今年停了，不晓得什么原因", "已核实，低保待遇已恢复"),
        ("我爹今年满60了，养老金要去哪里办", "已告知办理流程，并帮助提交了材料"),
        ("{at}有户人家的残疾证办了好久还冇下来", "已催办，残疾证已送到本人手里"),
        ("我娘的高龄补贴这几个月都冇到账", "已核实，补贴已补发到账"),
        ("{at}有户人家因病返贫，想申请临时救助", "临时救助已审批发放"),
        ("{at}有人问城乡居民养老保险今年交多少钱", "已上门讲解今年的缴费档次"),
        ("{at}有个低保户说今年的低保金少了", "已复核，差额已补发"),
    ),
    "medical": (
        ("医保卡里的钱用不了，去卫生院看病不能报销", "已协调卫生院，报销已办好"),
        ("村卫生室的医生经常不在，看个病要跑到镇上", "已要求村医公示坐诊时间"),
        ("今年的医保要交了，{at}好多人不会在手机上交", "已安排村干部上门帮忙缴费"),
        ("{at}有个慢性病的老人在卫生院开不到药", "已协调卫生院配齐药品"),
        ("家庭医生签约了一年都冇来随访过", "已安排家庭医生上门随访"),
        ("{at}有人住院的医保报销比例算得不对", "已复核，少报的部分已补报"),
    ),
    "education": (
        ("{at}的伢子上学要走好远，校车能不能开到我们这里", "已协调校车增加停靠点"),
        ("学校食堂的饭菜，伢子们都说吃不饱", "已约谈学校，饭菜分量已调整"),
        ("{at}有个伢子初中冇读完就不去上学了，家里管不住", "已上门劝返，伢子已回校"),
        ("村里的农家书屋一直锁着门，冇人管", "已安排专人每周开放"),
        ("{at}的篮球架坏了好久了，伢子们冇地方打球", "已更换篮球架"),
        ("今年的教育资助申请表要交到哪里", "已把申请表送上门，并告知交表地点"),
    ),
    "housing": (
        ("{at}有户人家的房子是危房，墙都裂了，下雨怕垮", "已鉴定为危房，人已转移，纳入改造"),
        ("想在自家宅基地上建房，审批要怎么办", "已告知建房审批流程和材料"),
        ("我家的危房改造申请交上去半年了还冇消息", "已查明进度，改造资金已下达"),
        ("{at}有人在田里乱建房子，占了基本农田", "已责令停止违建"),
        ("我家老屋漏雨漏得厉害，屋顶的瓦都烂了", "已协调修缮，屋顶已换瓦"),
        ("{at}有户人家建房把别人的出路堵了", "已调解，留出了通道"),
    ),
    "agriculture": (
        ("{at}的稻田里好多虫，打药都打不死", "已请农技员到田间指导防治"),
        ("今年的耕地地力保护补贴还冇到账", "已核实，补贴已发放到账"),
        ("{at}有野猪下山拱红薯，庄稼都被糟蹋了", "已组织狩猎队驱赶野猪"),
        ("想养羊，有冇得贷款或者补贴政策", "已告知养殖补贴和贴息贷款政策"),
        ("{at}的油菜得了病，叶子都黄了，想请农技员来看看", "农技员已到田间查看并开了药"),
        ("{at}山上的松树枯死了好多，是不是松材线虫", "已取样送检，并清理病死松树"),
        ("{at}的鱼塘死了好多鱼，不晓得是什么病", "已请水产技术员查明原因并指导用药"),
    ),
    "dispute": (
        ("{at}两户人家为了田埂的界线吵起来了，调解不好", "经村调委会调解，双方重新划定界线"),
        ("{at}有两兄弟为了老屋的宅基地闹矛盾", "已调解，兄弟俩签了协议"),
        ("隔壁邻居的鸡天天跑到我家菜地里，讲了好多次都不听", "已上门调解，邻居答应把鸡圈起来"),
        ("{at}有人在外面打工被老板拖欠工资，讨不回来", "已协调劳动监察，工资已追回"),
        ("{at}的山林界址有争议，两个组都说是自己的", "已查阅林权证，现场确认了界址"),
        ("邻居家的排水沟把水排到我家屋门口，讲不通", "已调解，邻居改了排水沟"),
    ),
    "safety": (
        ("{at}的河边冇得围栏，细伢子经常去玩水", "已安装围栏和防溺水警示牌"),
        ("{at}最近有人偷电动车，已经丢了好几台", "派出所已立案，并加强夜间巡逻"),
        ("{at}有条疯狗见人就咬", "已联系派出所处置疯狗"),
        ("{at}有人半夜在河里电鱼", "派出所已查处电鱼"),
        ("{at}有户人家的液化气罐放在灶边上，怕出事", "已上门检查，液化气罐已挪开"),
        ("{at}有人聚众赌博，天天打牌到半夜", "派出所已查处"),
        ("{at}的山上有人烧田坎，怕引起山火", "已劝止野外用火，并加强巡查"),
    ),
    "other": (
        ("想问一下镇上办身份证在哪里办，什么时候上班", "已电话答复反映人"),
        ("村务公开栏好久冇更新了，想了解一下今年的项目", "已督促村里更新公开栏"),
        ("想问一下老年证在哪里办", "已电话答复办理地点"),
        ("想问一下户口迁移要准备什么材料", "已告知所需材料"),
        ("我们组想搞个文艺队，能不能给点支持", "已联系镇文化站给予支持"),
    ),
}

# If a message does not come back with a ticket number, the reporter says it again plainly.
PLAIN_PROBLEMS: dict[str, str] = {
    "road": "{at}路灯坏了",
    "water": "{at}停水了",
    "irrigation": "{at}水渠堵了",
    "power": "{at}停电了",
    "environment": "{at}垃圾冇人清运",
    "social_security": "{at}有人低保的事要反映",
    "medical": "看病医保报销的事要反映",
    "education": "伢子上学的事要反映",
    "housing": "{at}危房的事要反映",
    "agriculture": "{at}庄稼病虫害要反映",
    "dispute": "{at}有矛盾纠纷要调解",
    "safety": "{at}有治安问题要反映",
    "other": "想问一下政府办事的流程",
}

OPENERS = (
    "",
    "",
    "",
    "",
    "书记，",
    "主任你好，",
    "你好，",
    "反映个情况：",
    "跟你们反映一下，",
    "喂，",
    "我是{group_cn}组的{name}，",
)
HOUSEHOLDS = ("十几户", "七八户", "二十多户", "有五户人家", "三户")
SINCE = ("，好几天了", "，一个多星期了", "，从前天开始就这样", "，上个月就讲过，还冇解决")
ASKS = ("，麻烦看一下", "，请派人来看看", "，能不能帮忙解决一下", "，希望早点处理", "，谢谢")
URGENT_ASKS = ("，麻烦尽快！", "，急！", "，赶紧派人来", "，快点来人看一下")
GREETINGS = ("你好", "您好", "在吗", "在不在")
THANKS = ("谢谢", "谢谢你们", "辛苦了", "谢谢书记", "好的，谢谢")
WITHDRAW_REASONS = ("自己已经弄好了", "发错了", "已经冇事了，组里自己解决了")
# Messages the dispatcher will find are not the town's to handle.
OUT_OF_SCOPE = (
    (
        "网上买的化肥是假的，商家不退钱，帮忙问一下",
        "属于市场监管，已告知反映人拨打12315",
    ),
    (
        "帮隔壁镇的亲戚问一下，他们那里的路灯坏了好久",
        "不属于本镇范围，已告知反映人向所在镇反映",
    ),
    (
        "测试一下这个能不能用，我们组路灯的事",
        "测试消息，已电话确认不是问题",
    ),
)
STRANGER_TEXTS = (
    "我们这里的路灯坏了，找谁",
    "你好，想反映个事情",
    "自来水停了，怎么办",
)

PROGRESS_NOTES: dict[str, tuple[str, ...]] = {
    "road": ("已到现场看了，已联系施工队", "材料已备好，这两天施工"),
    "water": ("已安排水管员上门查看", "正在抢修，预计明天通水"),
    "irrigation": ("已到现场查看，正在联系挖机", "已安排人员清淤"),
    "power": ("已报供电所，电工正在排查", "已联系运营商，正在处理"),
    "environment": ("已通知保洁员和环卫公司", "已约谈相关人员，限期整改"),
    "social_security": ("已调取材料，正在核实", "已报县民政局复核"),
    "medical": ("已联系卫生院了解情况", "正在协调医保经办"),
    "education": ("已与中心学校沟通", "正在核实情况"),
    "housing": ("已上门查看房屋情况", "已报村镇建设办审核"),
    "agriculture": ("已请农技员到田间查看", "已报农业综合服务中心"),
    "dispute": ("已约双方到村部调解", "调解员已上门了解情况"),
    "safety": ("已报派出所，民警已出警", "已安排巡逻"),
    "other": ("已了解情况，正在办理",),
}
# What a cadre writes when a ticket came without words (a photo the dispatcher passed on).
GENERIC_RESULTS = ("已电话联系反映人，到现场处理好了", "已到现场查看并处理")
UNSATISFIED_REASONS = (
    "问题还是冇解决",
    "只是临时弄了一下，过两天又是老样子",
    "冇人来看过就说办好了",
    "处理得太慢了",
)
RETURN_REASONS = (
    "这个不属于我们单位的职责",
    "不归我们管，应该由村里处理",
    "这个事情属于其他单位，请重新派单",
)
EXTENSION_REASONS = ("等材料到货", "要等天晴了才能施工", "需要报县里审批", "施工队排不开")
REJECT_REASONS = ("属于你们的职责范围，请继续办理", "请先办理，确有困难再报")

BIND_FORMS = (
    "绑定 {name} {phone}",
    "绑定 {name} {phone}",
    "绑定 {name} {phone}",
    "绑定{name}{phone}",
    "绑定 {name}，{phone}",
    "绑定 {name} {spaced}",
)

# How a 邻长 says where the problem is: their own group, another group of the village, a group
# without its number (corrected afterwards), a group of another village.
OWN_GROUP = ("我们组", "我们{cn}组", "{group}组", "{cn}组", "组里", "我们这里", "我们组上")
OTHER_GROUP = ("{group}组", "隔壁{cn}组")
VAGUE_GROUP = "隔壁组"
VILLAGE_GROUP = "{village}{group}组"
AFFECTED = "，{households}都受影响"

# ---------------------------------------------------------------- 邻长 commands

BIND = "绑定 {name} {phone}"
CORRECT_CATEGORY = "改 类别 {name}"
CORRECT_PLACE = "改 村 {village} {group}组"
CORRECT_URGENT = "改 紧急"
CORRECT_NOT_URGENT = "改 不急"
WITHDRAW = "撤回 #{n} {reason}"
ASK_TICKET = "查询 {n}"
ASK_MINE = "我的"
SATISFIED, BASIC, UNSATISFIED = "满意", "基本满意", "不满意"
RATINGS = (SATISFIED, BASIC, UNSATISFIED)
RATING_ENDINGS = ("", "，谢谢")  # a rating without the number
RATING_SEPARATORS = (" ", " #", "#")
RATE = "{verb} {n}{reason}"
STRANGER_SURNAME, STRANGER_GIVEN = "王", "明华丽"

# ---------------------------------------------------------------- cadres and the dispatcher

ACCEPT_FORMS = ("签收 {n}", "签收#{n}", "接单 {n}", "签收 {n}号")
ACCEPT = "签收 {n}"
PROGRESS = "进度 {n} {note}"
EXTEND = "延期 {n} {days}{unit} {reason}"
EXTEND_UNITS = ("", "天")
RESOLVE_VERBS = ("办结", "完成")
RESOLVE = "{verb} {n} {result}"
REDONE = "重新处理：{result}"
RETURN = "退回 {n} {reason}"
TRANSFER = "转办 {n} {who}"
APPROVE = "同意 {n}"
REJECT = "驳回 {n} {reason}"
SEND = "派 {n} {who}"
MERGE = "合并 {n} {target}"
INVALID = "无效 {n} {reason}"

# ---------------------------------------------------------------- the roster of 大栗港镇

# The units a township has, named as config/taxonomy.toml names them; any other unit the
# taxonomy routes to is added after these (see taxonomy_unit_names).
BASE_UNITS = (
    "水利站",
    "供电所",
    "司法所",
    "派出所",
    "卫生院",
    "中心学校",
    "社会事务办",
    "农业综合服务中心",
    "自然资源所",
    "交通管理站",
    "应急办",
    "党政办",
)
HEAD_TITLES = (("站", "站长"), ("所", "所长"), ("院", "院长"), ("学校", "校长"))
HEAD_TITLE_OTHER = "主任"
TITLES = {
    "secretary": "党委书记",
    "mayor": "镇长",
    "deputy": "副镇长",
    "dispatcher": "综治中心调度员",
    "liaison": "包村干部",
    "village_cadre": "村支书兼主任",
}
CLAN_VILLAGE = "家"  # 朱家村, 刘家村…: villages named after the family most of them belong to

# Surnames common in 益阳/桃江, weighted roughly by how often one meets them there.
SURNAMES = (
    ("刘", 9),
    ("李", 7),
    ("王", 6),
    ("张", 6),
    ("陈", 6),
    ("杨", 5),
    ("周", 5),
    ("黄", 5),
    ("彭", 4),
    ("罗", 4),
    ("谭", 4),
    ("曾", 4),
    ("胡", 3),
    ("邓", 3),
    ("唐", 3),
    ("肖", 3),
    ("蒋", 2),
    ("龚", 2),
    ("文", 2),
    ("贺", 2),
    ("朱", 2),
    ("郭", 2),
    ("何", 2),
    ("夏", 2),
    ("熊", 2),
    ("汤", 1),
    ("龙", 1),
    ("袁", 1),
    ("易", 1),
    ("莫", 1),
    ("符", 1),
    ("姚", 1),
    ("欧阳", 1),
)
GIVEN_CHARS = (
    "建国华明军平伟强林红芳英兰秀梅桂香志勇春生德福友新云辉丽金玉海文光正良和顺贵清松敏霞娟"
    "凤莲菊跃胜成民泉双喜桃秋冬满益永长青石杏"
)

# ---------------------------------------------------------------- the demo commands

SEED_ALREADY = "{town} 已经在数据库里了，没有重复生成。"
SEED_NOT_EMPTY = "数据库里已有别的名册；演示镇只装进空数据库。"
SEEDED = (
    "已生成演示镇 {town}：{zones} 个片区，{villages} 个村，{groups} 个组，{neighbours} 名邻长，"
    "共 {people} 人；{units} 个站所。调度员企业微信账号 {dispatcher}。"
)
HELP_SEED = "随机种子：同一种子，同一季"
HELP_MONTHS = "模拟几个月（从2026年1月5日起）"
HELP_RESET = "先清空演示数据库（工单、绑定、消息），再重新模拟"
REFUSED_PRODUCTION = "GRIEVANCE_ENV=production：生产环境不能运行演示季。"
REFUSED_NOT_DEMO = "数据库里的名册不是演示镇的（没有调度员或邻长）。"
REFUSED_OTHER_ROSTER = (
    "数据库里有{town}以外的名册，演示季只在演示镇的数据库里运行；"
    "请用 GRIEVANCE_DATABASE_URL 或 GRIEVANCE_INSTANCE_PATH 指定另一个数据库。"
)
REFUSED_TICKETS = "数据库里已经有工单了。加 --reset 清空演示数据（工单、绑定、消息）后重新模拟。"
WIPED = "已清空演示数据库，"
TOWN_KEPT = "用数据库里已有的演示镇 {town}（还没有工单）。"
TOWN_SEEDED = "{wiped}已生成演示镇 {town}。"
MONTH_DONE = "{month:>2}月：累计工单 {tickets} 件，消息 {messages} 条，送达通知 {delivered} 条"
SUMMARY_SEASON = (
    "演示季 {start:%Y-%m-%d} 至 {end:%Y-%m-%d}（种子 {seed}，{months} 个月）用时 {seconds:.1f} 秒。"
)
SUMMARY_MESSAGES = (
    "发出消息 {messages} 条（公众号 {wechat}，企业微信 {wecom}），送达通知 {delivered} 条，"
    "定时任务 {jobs} 次。"
)
SUMMARY_TICKETS = "工单 {tickets} 件：{states}。"
STATE_COUNT = "{state} {count}"
LIST_SEPARATOR = "，"
SUMMARY_SURPRISES = "意外回复：{surprises}"
SUMMARY_REPORT = "报表：grievance-bot report --from {first:%Y-%m-%d} --to {last:%Y-%m-%d}"
