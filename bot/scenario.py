"""`grievance-bot demo scenario`: a season in the demo town, played through the webhook.

Everything happens the way it would with real phones: 邻长 follow the 公众号 and bind with
`绑定 姓名 手机号`, report problems in their own words (photos first, voice notes, corrections, a
greeting now and then), cadres answer on 企业微信 with 签收 / 进度 / 办结 / 退回 / 延期 / 转办, the
dispatcher approves, merges and marks invalid, and reporters rate. Each of those is a signed
callback posted to the app's `/wechat` or `/wecom` endpoint (Flask's test client, no network), on a
simulated clock the app reads as its `now`. The scheduled jobs run at simulated times, and the
outbox is delivered to the simulated phones, whose owners react to what they receive: a cadre
signs for a ticket because the 【新工单】 message reached them, a reporter rates because the 办结
notice did. Ticket numbers come from the replies and notifications, never from the database.

Deterministic: one `random.Random(seed)` draws every choice in a fixed order, and actions run in
time order from one heap, so the same seed gives the same season and the same figures.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import logging
import math
import random
import re
import time as wall
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

import click
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, text
from sqlmodel import SQLModel, col, select

import models.tables  # noqa: F401  (every table, for the reset)
from bot.app import create_app
from bot.channels import Channels, ConsoleChannel, Sending, SendResult, channel_for
from bot.cli_support import open_database
from bot.phone import Phone, message_xml, next_msg_id, reply_text
from bot.scheduler import JobContext, JobSpec, Weekly, job_specs
from config.calendar import TIMEZONE, WorkCalendar
from config.office import load_office
from config.settings import Settings, get_settings
from handlers import texts
from models.db import read_session, unit_of_work
from models.deadlines import deadlines_for
from models.demo_town import database_is_empty, load_demo_config, seed_demo_town
from models.figures import Report, Scope, compute_report, headline, headline_fields
from models.outbox import OutboxMessage, OutboxStatus
from models.person import Coverage, Person, PersonRole, Role
from models.place import Place, PlaceKind
from models.roster import DEMO_PHONE_PREFIX
from models.ticket import STATE_NAMES, Ticket, TicketState

log = logging.getLogger(__name__)

LOCAL = TIMEZONE
SEASON_START = date(2026, 1, 5)  # the Monday the town's 邻长 started using the 公众号
DEFAULT_SEED = 2026
MAX_MONTHS = 12
DAY = timedelta(days=1)
# The villages' training sessions, one a week from the season's second week (the first trains
# the cadres) into April.
ROLLOUT_FROM, ROLLOUT_DAYS = 7, 120
SPRING_FESTIVAL = (date(2026, 2, 15), date(2026, 2, 23))  # 春节 2026, when few people write

# Problems the town's 邻长 raise in each month (January from the 5th, February with 春节), tuned
# so that nine months end near the town's published 798 problems collected.
MONTHLY_PROBLEMS = (72, 62, 88, 95, 98, 98, 102, 99, 93, 86, 80, 76)

# The in-process app's credentials: the season never leaves this process, so it signs with its
# own keys rather than the instance's.
SCENARIO_CREDENTIALS: dict[str, Any] = {
    "wechat_token": "demo-scenario",
    "wechat_aes_key": "DemoScenarioAesKey0123456789abcdefghijklmno",
    "wechat_appid": "wxdemoscenario000",
    "wecom_token": "demo-scenario-wecom",
    "wecom_aes_key": "DemoScenarioWecomKey0123456789abcdefghijklm",
    "wecom_corp_id": "wwdemoscenario000",
    "wecom_agent_id": "1000002",
}

# When the season runs the jobs of bot/scheduler.job_specs (Asia/Shanghai): (minute, hours of a
# working day, hours of a day off). Their real schedules run every few minutes; what people react
# to moves in hours, so the SLA sweep runs every two hours and the others daily. Weekly jobs run
# at their own moment of the week; a job not listed here runs at the default hours.
JOB_HOURS: dict[str, tuple[int, tuple[int, ...], tuple[int, ...]]] = {
    "sla_sweep": (5, (8, 10, 12, 14, 16, 18, 21), (9, 15, 21)),
    "rating_followup": (15, (10,), (10,)),
    "drafts": (45, (9,), (9,)),
}
DEFAULT_JOB_HOURS = (25, (9, 15), (9, 15))

# Office hours of the town's cadres (Asia/Shanghai), on working days of the official calendar.
OFFICE_HOURS = ((time(8, 30), time(12, 0)), (time(14, 30), time(17, 30)))

# How likely a 邻长 writes at each hour of the day (Asia/Shanghai): before and after field work.
HOUR_WEIGHTS = (
    0.1, 0.05, 0.05, 0.05, 0.1, 0.3, 1, 4, 6, 6, 5, 4, 5, 3, 3, 3, 3, 4, 6, 7, 6, 4, 2, 0.5,
)  # fmt: skip
# Categories whose work often needs materials, dry weather or the county's approval.
BIG_JOBS = frozenset({"road", "irrigation", "housing", "water", "social_security"})
# Median office hours from 签收 to 办结, per category (a working day has 6.5 office hours).
RESOLVE_OFFICE_HOURS = {
    "road": 12,
    "water": 6,
    "irrigation": 10,
    "power": 5,
    "environment": 7,
    "social_security": 14,
    "medical": 8,
    "education": 10,
    "housing": 18,
    "agriculture": 10,
    "dispute": 9,
    "safety": 5,
    "other": 4,
}


class ScenarioRefused(click.ClickException):
    """The database is not one a demo season may be played in (as it stands)."""


# ---------------------------------------------------------------- what people say

CN_DIGITS = "零一二三四五六七八九"


def chinese_numeral(number: int) -> str:
    """1 → 一, 12 → 十二, 20 → 二十: how a group number is spoken."""
    if number < 10:
        return CN_DIGITS[number]
    tens, units = divmod(number, 10)
    head = "" if tens == 1 else CN_DIGITS[tens]
    return f"{head}十{CN_DIGITS[units] if units else ''}"


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

# How much of each category a month brings (spring ploughing, summer drought and floods, heat,
# the new school year, 春节 returns), on top of a base share.
CATEGORY_BASE = {
    "road": 20,
    "water": 11,
    "irrigation": 9,
    "power": 10,
    "environment": 12,
    "social_security": 8,
    "medical": 4,
    "education": 3,
    "housing": 5,
    "agriculture": 6,
    "dispute": 7,
    "safety": 3,
    "other": 2,
}
CATEGORY_SEASON: dict[int, dict[str, int]] = {
    1: {"power": 5, "social_security": 4, "water": 2},
    2: {"dispute": 5, "social_security": 3},
    3: {"agriculture": 5, "irrigation": 4, "housing": 3},
    4: {"irrigation": 9, "agriculture": 5},
    5: {"irrigation": 8, "road": 3},
    6: {"irrigation": 6, "safety": 4, "environment": 3},
    7: {"water": 6, "power": 6, "irrigation": 6, "safety": 4, "environment": 4},
    8: {"water": 6, "power": 6, "irrigation": 6, "education": 4, "environment": 3},
    9: {"education": 4, "agriculture": 4, "road": 3},
    10: {"agriculture": 5},
    11: {"social_security": 3},
    12: {"power": 4, "social_security": 4},
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


# ---------------------------------------------------------------- time


def local_midnight(day: date) -> datetime:
    """00:00 of a day in Asia/Shanghai, as aware UTC."""
    return datetime.combine(day, time(0), tzinfo=LOCAL).astimezone(UTC)


def at_local(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A moment of a day in Asia/Shanghai, as aware UTC."""
    return datetime.combine(day, time(hour, minute, second), tzinfo=LOCAL).astimezone(UTC)


def whole_seconds(moment: datetime) -> datetime:
    """WeChat's CreateTime has whole seconds, so every simulated moment does too."""
    return moment.replace(microsecond=0)


class Office:
    """Office hours on the official calendar: when cadres read and answer their 企业微信."""

    def __init__(self, calendar: WorkCalendar) -> None:
        self.calendar = calendar

    def after(self, start: datetime, hours: float) -> datetime:
        """The moment `hours` of office time after `start` (aware UTC)."""
        remaining = timedelta(hours=max(0.0, hours))
        current = start.astimezone(LOCAL)
        for _ in range(400):
            day = current.date()
            if self.calendar.is_working_day(day):
                for opens, closes in OFFICE_HOURS:
                    begin = datetime.combine(day, opens, tzinfo=LOCAL)
                    end = datetime.combine(day, closes, tzinfo=LOCAL)
                    if current >= end:
                        continue
                    begin = max(begin, current)
                    if begin + remaining <= end:
                        return whole_seconds((begin + remaining).astimezone(UTC))
                    remaining -= end - begin
            current = datetime.combine(day + timedelta(days=1), time(0), tzinfo=LOCAL)
        raise ValueError(f"no office hours in the 400 days after {start}")

    def is_open(self, moment: datetime) -> bool:
        """Whether the office is open at `moment`."""
        local = moment.astimezone(LOCAL)
        if not self.calendar.is_working_day(local.date()):
            return False
        return any(opens <= local.time() < closes for opens, closes in OFFICE_HOURS)


class Clock:
    """The simulated time the app reads as its `now`."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


# ---------------------------------------------------------------- the people


@dataclass
class Reporter:
    """A 邻长 as the season knows them: who, where, and their phone's WeChat identity."""

    person_id: int
    name: str
    phone: str
    village: str
    group: int
    openid: str
    bound: bool = False
    activity: float = 1.0
    awaiting: set[int] = field(default_factory=set)  # own tickets waiting for a rating


@dataclass
class Cadre:
    """Someone who answers on 企业微信: a cadre, a unit head or member, the dispatcher, a leader."""

    person_id: int
    name: str
    phone: str
    userid: str
    unit_id: int | None = None


@dataclass
class Roster:
    """The demo town's people, read from the database once."""

    reporters: list[Reporter]
    by_person: dict[int, Reporter]
    cadres: dict[int, Cadre]
    dispatcher: Cadre
    village_cadre: dict[str, Cadre]
    unit_members: dict[int, list[Cadre]]  # unit → members (not heads)
    unit_heads: set[int]
    villages: dict[str, int]  # village → number of groups
    groups: dict[tuple[str, int], list[Reporter]]


def openid_for(phone: str) -> str:
    """A stable, openid-like 公众号 identity for a demo phone."""
    digest = hashlib.sha256(f"demo-scenario:{phone}".encode()).hexdigest()
    return f"oDLG{digest[:24]}"


def load_roster(engine: Engine) -> Roster:
    """Read the 邻长, the cadres and the places of the demo town."""
    with read_session(engine) as session:
        places = {p.id: p for p in session.exec(select(Place))}
        role_rows = session.exec(select(PersonRole.person_id, PersonRole.role)).all()
        roles: dict[int, set[str]] = {}
        for person_id, role in role_rows:
            roles.setdefault(person_id, set()).add(role)
        people = list(session.exec(select(Person).where(col(Person.active).is_(True))))
        coverage = session.exec(
            select(Coverage.place_id, Coverage.person_id).where(
                Coverage.role == Role.village_cadre.value
            )
        ).all()
    villages: dict[str, int] = {}
    for place in places.values():
        if place.kind == PlaceKind.group.value and place.parent_id in places:
            parent = places[place.parent_id]
            villages[parent.name] = villages.get(parent.name, 0) + 1
    reporters: list[Reporter] = []
    cadres: dict[int, Cadre] = {}
    dispatcher: Cadre | None = None
    unit_members: dict[int, list[Cadre]] = {}
    unit_heads: set[int] = set()
    for person in sorted(people, key=lambda p: p.id or 0):
        assert person.id is not None
        person_roles = roles.get(person.id, set())
        if Role.neighbour_head.value in person_roles:
            home = places.get(person.place_id)
            if home is None or home.kind != PlaceKind.group.value or home.number is None:
                continue
            village = places.get(home.parent_id)
            if village is None:
                continue
            reporters.append(
                Reporter(
                    person_id=person.id,
                    name=person.name,
                    phone=person.phone,
                    village=village.name,
                    group=home.number,
                    openid=person.wechat_openid or openid_for(person.phone),
                    bound=person.wechat_openid is not None,
                )
            )
        elif person.wecom_userid:
            cadre = Cadre(person.id, person.name, person.phone, person.wecom_userid, person.unit_id)
            cadres[person.id] = cadre
            if Role.dispatcher.value in person_roles and dispatcher is None:
                dispatcher = cadre
            if Role.unit_head.value in person_roles:
                unit_heads.add(person.id)
            if Role.unit_member.value in person_roles and person.unit_id is not None:
                unit_members.setdefault(person.unit_id, []).append(cadre)
    if dispatcher is None or not reporters:
        raise ScenarioRefused("数据库里的名册不是演示镇的（没有调度员或邻长）。")
    village_cadre = {
        places[place_id].name: cadres[person_id]
        for place_id, person_id in coverage
        if place_id in places and person_id in cadres
    }
    groups: dict[tuple[str, int], list[Reporter]] = {}
    for reporter in reporters:
        groups.setdefault((reporter.village, reporter.group), []).append(reporter)
    return Roster(
        reporters=reporters,
        by_person={r.person_id: r for r in reporters},
        cadres=cadres,
        dispatcher=dispatcher,
        village_cadre=village_cadre,
        unit_members=unit_members,
        unit_heads=unit_heads,
        villages=villages,
        groups=groups,
    )


# ---------------------------------------------------------------- the phones


class Webhook:
    """Posts signed callbacks to the app, as WeChat's servers would, and reads the replies."""

    def __init__(self, client: FlaskClient, settings: Settings, clock: Clock) -> None:
        self.client = client
        self.settings = settings
        self.clock = clock
        self.wechat = Phone(settings)  # 公众号 in safe mode: encrypted both ways
        self.wecom = Phone(settings, wecom=True)
        self.sent: Counter[str] = Counter()
        # Whether a message since the last delivery may have written to the outbox.
        self.may_notify = False

    def send(
        self, sender: str, msg_type: str, *, wecom: bool = False, quiet: bool = False, **fields: Any
    ) -> str:
        """Post one message from `sender` at the simulated time; the reply's text ('' if none).

        `quiet` says the message tells nobody else (binding, a greeting, a query), so the season
        need not look at the outbox after it.
        """
        phone = self.wecom if wecom else self.wechat
        body: dict[str, Any] = {
            "ToUserName": self.settings.wecom_corp_id if wecom else "gh_town",
            "FromUserName": sender,
            "CreateTime": int(self.clock.now.timestamp()),
            "MsgType": msg_type,
        }
        body.update(fields)
        if msg_type != "event":
            body["MsgId"] = next_msg_id()
        if wecom:
            body["AgentID"] = self.settings.wecom_agent_id
        signed = phone.sign(message_xml(body))
        response = self.client.post(
            phone.path, query_string=signed.query, data=signed.body, content_type="text/xml"
        )
        if response.status_code != 200:
            raise RuntimeError(
                f"the webhook answered {response.status_code}: {response.get_data(as_text=True)}"
            )
        self.sent["wecom" if wecom else "wechat"] += 1
        self.may_notify = self.may_notify or not quiet
        return reply_text(phone.open_reply(signed, response.get_data(as_text=True)))

    def text(self, sender: str, content: str, *, wecom: bool = False, quiet: bool = False) -> str:
        """A text message."""
        return self.send(sender, "text", wecom=wecom, quiet=quiet, Content=content)


class PhoneChannel(ConsoleChannel):
    """Delivery to the simulated phones: every outbox message reaches its person at once."""

    name = "scenario"

    def send(
        self,
        person: Person,
        message: OutboxMessage,
        *,
        now: datetime,
        sending: Sending | None = None,
    ) -> SendResult:
        """Hand the message over; the season reads it from the delivered batch."""
        return SendResult.sent(self.name)


# ---------------------------------------------------------------- the season


@dataclass
class Episode:
    """One problem a 邻长 raises: when, what they say and how, and what will become of it."""

    at: datetime
    reporter: Reporter
    category: str
    text: str
    style: str  # text, photo_first, photo_after, voice, voice_silent, photo_only
    place_text: str  # how the place was said, for a plain retry
    problem: tuple[str, str] = ("", "")  # the problem phrase and what solving it looks like
    greet: bool = False
    urgent_ask: bool = False
    place_fix: tuple[str, int] | None = None  # the group the reporter meant and corrects to
    invalid_reason: str | None = None
    withdraw_reason: str | None = None
    twin_of: Episode | None = None
    number: int | None = None


@dataclass
class Plan:
    """What the season knows and intends about one ticket, by number."""

    number: int
    category: str | None = None
    reporter: Reporter | None = None
    episode: Episode | None = None
    assignee: int | None = None
    urgent: bool = False
    ack_due: datetime | None = None
    resolve_due: datetime | None = None
    stage: str = "assigned"  # assigned, accepted, returned, resolved, closed, gone
    token: int = 0  # bumped whenever the next step is re-planned; stale steps are skipped
    resolve_at: datetime | None = None
    notes_left: int = 0
    extension: str | None = None  # none, wanted, asked, approved, rejected
    resolutions: int = 0
    returned: bool = False
    transferred: bool = False
    reopened: bool = False


@dataclass
class SeasonResult:
    """What a season did and the figures it ended with."""

    seed: int
    months: int
    start: date
    end: date
    seconds: float
    messages: Counter[str]
    delivered: int
    job_runs: Counter[str]
    states: Counter[str]
    surprises: Counter[str]
    report: Report


ANY_NUMBER = re.compile(r"#(\d+)")
_FIELD = re.compile(r"\\\{(\w+)\\\}")


@lru_cache(maxsize=64)
def _pattern(template: str) -> re.Pattern[str]:
    """A regular expression for a sentence of handlers/texts.py with its fields filled in."""
    seen: set[str] = set()

    def field_pattern(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in seen:
            return f"(?P={name})"
        seen.add(name)
        return rf"(?P<{name}>\d+)" if name == "id" else f"(?P<{name}>.*?)"

    return re.compile(_FIELD.sub(field_pattern, re.escape(template)), re.DOTALL)


def fields_of(reply: str, template: str) -> dict[str, str] | None:
    """The fields of `reply` if it is the sentence `template` (from handlers/texts.py)."""
    found = _pattern(template).fullmatch(reply)
    return found.groupdict() if found else None


def said(reply: str, *templates: str) -> bool:
    """Whether `reply` is one of the sentences `templates`, with any fields filled in."""
    return any(fields_of(reply, template) is not None for template in templates)


class Season:
    """A deterministic season: plans problems, plays every action in time order, reacts."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        seed: int,
        months: int,
        echo: Callable[[str], None] = click.echo,
    ) -> None:
        self.engine = engine
        self.settings = settings.model_copy(update=SCENARIO_CREDENTIALS)
        self.seed = seed
        self.months = months
        self.echo = echo
        self.rng = random.Random(seed)
        self.start = local_midnight(SEASON_START)
        last_month = SEASON_START.month - 1 + months
        self.end_day = date(SEASON_START.year + last_month // 12, last_month % 12 + 1, 1)
        self.end = local_midnight(self.end_day)
        self.clock = Clock(self.start)
        # The files the app and the jobs of the season use, read once for all of them.
        self.files = load_office(self.settings)
        self.calendar = self.files.calendar
        self.sla = self.files.sla
        self.office = Office(self.calendar)
        self.taxonomy = self.files.taxonomy
        self.category_code = {c.name: c.code for c in self.taxonomy.categories}
        self.roster = load_roster(engine)
        app = create_app(self.settings, engine=engine, clock=self.clock, office=self.files)
        self.webhook = Webhook(app.test_client(), self.settings, self.clock)
        self.channels = Channels(console=PhoneChannel())
        self.queue: list[tuple[datetime, int, Callable[..., None], tuple[Any, ...]]] = []
        self.sequence = itertools.count()
        self.plans: dict[int, Plan] = {}
        self.delivered = 0
        self.job_runs: Counter[str] = Counter()
        self.surprises: Counter[str] = Counter()
        self.tickets_seen = 0

    # ------------------------------------------------------------ the loop

    def at(self, moment: datetime, action: Callable[..., None], *args: Any) -> None:
        """Schedule `action(*args)` at `moment` (never before now)."""
        moment = whole_seconds(max(moment, self.clock.now))
        heapq.heappush(self.queue, (moment, next(self.sequence), action, args))

    def play(self) -> SeasonResult:
        """Plan the season, play it to its end and compute its figures."""
        started = wall.perf_counter()
        self.plan_rollout()
        self.plan_problems()
        self.plan_strangers()
        self.plan_jobs()
        month = self.start.astimezone(LOCAL).month
        while self.queue and self.queue[0][0] < self.end:
            moment, _, action, args = heapq.heappop(self.queue)
            local_month = moment.astimezone(LOCAL).month
            if local_month != month:
                self.month_done(month)
                month = local_month
            # Time only moves on: an action whose person paused past the next one delays it.
            self.clock.now = max(moment, self.clock.now)
            action(*args)
            if self.webhook.may_notify:
                self.webhook.may_notify = False
                self.deliver()
        self.clock.now = self.end
        self.month_done(month)
        seconds = wall.perf_counter() - started
        return SeasonResult(
            seed=self.seed,
            months=self.months,
            start=SEASON_START,
            end=self.end_day - timedelta(days=1),
            seconds=seconds,
            messages=Counter(self.webhook.sent),
            delivered=self.delivered,
            job_runs=self.job_runs,
            states=self.ticket_states(),
            surprises=self.surprises,
            report=self.figures(),
        )

    def month_done(self, month: int) -> None:
        """One line per simulated month."""
        self.echo(
            f"{month:>2}月：累计工单 {self.tickets_seen} 件，"
            f"消息 {sum(self.webhook.sent.values())} 条，送达通知 {self.delivered} 条"
        )

    def surprise(self, what: str, reply: str) -> None:
        """A reply the season did not expect: counted and logged, the season goes on."""
        self.surprises[what] += 1
        log.debug("unexpected reply to %s: %s", what, reply)

    # ------------------------------------------------------------ delivery

    def deliver(self) -> None:
        """Deliver the outbox to the phones and let their owners react.

        Stands in for the worker (bot/worker.py) with the phones as its channel; the outcomes
        of a pass are written in one transaction, which keeps a season of thousands of
        notifications fast.
        """
        with read_session(self.engine) as session:
            pending = session.exec(
                select(OutboxMessage.id)
                .where(
                    OutboxMessage.status == OutboxStatus.pending.value,
                    col(OutboxMessage.next_attempt_at) <= self.clock.now,
                )
                .limit(1)
            ).first()
        if pending is None:
            return
        received: list[tuple[int, str, str, int | None]] = []
        with unit_of_work(self.engine) as session:
            messages = list(
                session.exec(
                    select(OutboxMessage)
                    .where(
                        OutboxMessage.status == OutboxStatus.pending.value,
                        col(OutboxMessage.next_attempt_at) <= self.clock.now,
                    )
                    .order_by(col(OutboxMessage.id))
                )
            )
            ids = {m.person_id for m in messages if m.person_id is not None}
            people = {p.id: p for p in session.exec(select(Person).where(col(Person.id).in_(ids)))}
            for message in messages:
                person = people.get(message.person_id) if message.person_id else None
                target = channel_for(person, self.channels)
                message.attempts += 1
                if isinstance(target, str) or person is None or person.id is None:
                    message.status = OutboxStatus.dead.value
                    message.last_error = target if isinstance(target, str) else "no recipient"
                else:
                    result = target.send(person, message, now=self.clock.now)
                    message.status = OutboxStatus.sent.value
                    message.sent_at = self.clock.now
                    message.channel = result.channel
                    received.append((person.id, message.kind, message.text, message.ticket_id))
                session.add(message)
        self.delivered += len(received)
        for person_id, kind, body, ticket_id in received:
            self.receive(person_id, kind, body, ticket_id)

    def receive(self, person_id: int, kind: str, body: str, ticket_id: int | None) -> None:
        """A phone shows a notification; its owner decides what to do about it."""
        found = ANY_NUMBER.search(body)
        number = int(found.group(1)) if found else ticket_id
        if number is None:
            return
        reporter = self.roster.by_person.get(person_id)
        if reporter is not None:
            self.reporter_reads(reporter, kind, number)
        elif person_id in self.roster.cadres:
            self.cadre_reads(self.roster.cadres[person_id], kind, number, body)

    # ------------------------------------------------------------ planning

    def plan_rollout(self) -> None:
        """The town trains one village a week; 邻长 who came with a smartphone bind there.

        The others bind when they first have a problem to report (their 组长 shows them how).
        """
        days = [
            SEASON_START + timedelta(days=i)
            for i in range(ROLLOUT_FROM, ROLLOUT_DAYS)
            if self.calendar.is_working_day(SEASON_START + timedelta(days=i))
        ]
        by_village: dict[str, list[Reporter]] = {}
        for reporter in self.roster.reporters:
            reporter.activity = self.rng.lognormvariate(0.0, 0.9)
            by_village.setdefault(reporter.village, []).append(reporter)
        order = sorted(by_village)
        self.rng.shuffle(order)
        for index, village in enumerate(order):
            day = days[(index * len(days)) // len(order)]
            session = at_local(day, *self.rng.choice(((9, 0), (14, 30))))
            for reporter in by_village[village]:
                if reporter.bound:
                    continue
                draw = self.rng.random()
                if draw < 0.62:
                    moment = session + timedelta(minutes=self.rng.uniform(5, 100))
                elif draw < 0.72:
                    # At home in the evening, with a son or daughter's help.
                    later = day + timedelta(days=self.rng.randrange(0, 6))
                    moment = at_local(later, self.rng.randrange(18, 22), self.rng.randrange(60))
                else:
                    if draw > 0.95:
                        reporter.activity *= 0.3  # no smartphone: writes only when it matters
                    continue
                self.at(moment, self.follow_and_bind, reporter, self.rng.random() < 0.04)

    def plan_problems(self) -> None:
        """Every problem of the season, on days and at hours people write."""
        reporters = self.roster.reporters
        weights = [r.activity for r in reporters]
        for month_index in range(self.months):
            year = SEASON_START.year + (SEASON_START.month - 1 + month_index) // 12
            month = (SEASON_START.month - 1 + month_index) % 12 + 1
            first = max(SEASON_START, date(year, month, 1))
            following = date(year + month // 12, month % 12 + 1, 1)
            days = [first + timedelta(days=i) for i in range((following - first).days)]
            day_weights = [self.day_weight(day) for day in days]
            count = MONTHLY_PROBLEMS[month - 1]
            codes = list(CATEGORY_BASE)
            category_weights = [
                CATEGORY_BASE[c] + CATEGORY_SEASON.get(month, {}).get(c, 0) for c in codes
            ]
            episodes = []
            for day in self.rng.choices(days, day_weights, k=count):
                hour = self.rng.choices(range(24), HOUR_WEIGHTS)[0]
                moment = at_local(day, hour, self.rng.randrange(60), self.rng.randrange(60))
                reporter = self.rng.choices(reporters, weights)[0]
                category = self.rng.choices(codes, category_weights)[0]
                episodes.append(self.episode(moment, reporter, category))
            for episode in sorted(episodes, key=lambda e: e.at):
                self.at(episode.at, self.report, episode)
                if episode.twin_of is None and self.rng.random() < 0.012:
                    self.plan_twin(episode)

    def day_weight(self, day: date) -> float:
        """People write less on days off, and least over 春节."""
        if SPRING_FESTIVAL[0] <= day <= SPRING_FESTIVAL[1]:
            return 0.35
        return 1.0 if self.calendar.is_working_day(day) else 0.75

    def episode(self, moment: datetime, reporter: Reporter, category: str) -> Episode:
        """What one reporter says about one problem, and how."""
        rng = self.rng
        where, place_fix = self.where(reporter)
        if rng.random() < 0.004:
            words, reason = rng.choice(OUT_OF_SCOPE)
            return Episode(moment, reporter, "other", words, "text", where, invalid_reason=reason)
        urgent_ask = rng.random() < 0.06
        problem = rng.choice(PROBLEMS[category])
        text = self.compose(reporter, problem[0], where, urgent_ask)
        style = rng.choices(
            ("text", "photo_first", "photo_after", "voice", "voice_silent", "photo_only"),
            (64, 13, 9, 9, 4, 1),
        )[0]
        return Episode(
            moment,
            reporter,
            category,
            text,
            style,
            where,
            problem,
            greet=rng.random() < 0.05,
            urgent_ask=urgent_ask,
            place_fix=place_fix,
            withdraw_reason=rng.choice(WITHDRAW_REASONS) if rng.random() < 0.006 else None,
        )

    def where(self, reporter: Reporter) -> tuple[str, tuple[str, int] | None]:
        """How the reporter says where the problem is; a vague place is corrected afterwards."""
        rng = self.rng
        group, cn = reporter.group, chinese_numeral(reporter.group)
        draw = rng.random()
        if draw < 0.84:
            spoken = rng.choice(
                ("我们组", f"我们{cn}组", f"{group}组", f"{cn}组", "组里", "我们这里", "我们组上")
            )
            return spoken, None
        groups = self.roster.villages.get(reporter.village, 1)
        other = rng.randrange(1, groups + 1)
        if other == group:
            other = group % groups + 1
        if draw < 0.955:
            return rng.choice((f"{other}组", f"隔壁{chinese_numeral(other)}组")), None
        if draw < 0.97:
            # "隔壁组" names no number: the ticket lands on the reporter's own group, then 改.
            return "隔壁组", (reporter.village, other)
        village = rng.choice(sorted(self.roster.villages))
        other = rng.randrange(1, self.roster.villages[village] + 1)
        return f"{village}{other}组", None

    def compose(self, reporter: Reporter, problem: str, where: str, urgent_ask: bool) -> str:
        """Opener, problem, households, how long, and the ask, as 邻长 write them."""
        rng = self.rng
        communal = "{at}" in problem
        opener = rng.choice(OPENERS).format(
            group_cn=chinese_numeral(reporter.group), name=reporter.name
        )
        parts = [opener, problem.format(at=where)]
        if communal and rng.random() < 0.25:
            parts.append(f"，{rng.choice(HOUSEHOLDS)}都受影响")
        if rng.random() < 0.3:
            parts.append(rng.choice(SINCE))
        if urgent_ask:
            parts.append(rng.choice(URGENT_ASKS))
        elif rng.random() < 0.5:
            parts.append(rng.choice(ASKS))
        return "".join(parts)

    def plan_twin(self, original: Episode) -> None:
        """A neighbour in the same group reports the same problem a little later."""
        key = (original.reporter.village, original.reporter.group)
        others = [r for r in self.roster.groups.get(key, []) if r is not original.reporter]
        if not others or original.invalid_reason or original.style == "photo_only":
            return
        reporter = self.rng.choice(others)
        where = original.place_text
        twin = Episode(
            original.at + timedelta(minutes=self.rng.uniform(40, 360)),
            reporter,
            original.category,
            self.compose(reporter, original.problem[0], where, False),
            "text",
            where,
            original.problem,
            twin_of=original,
        )
        self.at(twin.at, self.report, twin)

    def plan_strangers(self) -> None:
        """Now and then someone not on the roster writes; the bot explains, nothing is created."""
        span = (self.end - self.start).days
        for index in range(max(1, span // 25)):
            moment = self.start + timedelta(days=self.rng.uniform(0, span))
            sender = f"oStranger{self.seed}x{index:03d}"
            self.at(moment, self.stranger, sender)

    def plan_jobs(self) -> None:
        """Every scheduled job at simulated times (see JOB_HOURS), and 节前清零 before holidays."""
        specs = job_specs(self.sla)
        day = SEASON_START
        while day < self.end_day:
            working = self.calendar.is_working_day(day)
            for spec in specs:
                if isinstance(spec.schedule, Weekly):
                    weekly = spec.schedule.at
                    if day.weekday() == weekly.weekday:
                        self.at(at_local(day, weekly.hour, weekly.minute), self.run_job, spec)
                    continue
                minute, hours, hours_off = JOB_HOURS.get(spec.name, DEFAULT_JOB_HOURS)
                for hour in hours if working else hours_off:
                    self.at(at_local(day, hour, minute), self.run_job, spec)
            if working and not any(self.calendar.is_working_day(day + k * DAY) for k in (1, 2, 3)):
                self.at(at_local(day, 14, 30), self.clear_desks, day)
            day += DAY

    # ------------------------------------------------------------ jobs

    def run_job(self, spec: JobSpec) -> None:
        """A job's body for the simulated moment, as `run_job` runs it once a slot is claimed."""
        context = JobContext(
            engine=self.engine,
            settings=self.settings,
            office=self.files,
            now=self.clock.now,
        )
        note = spec.body(context)
        self.job_runs[spec.name] += 1
        # A job's note counts what it did ("0 reminders, 0 escalations…"): all zeros sent nothing.
        if re.search(r"[1-9]", note):
            self.webhook.may_notify = True

    # ------------------------------------------------------------ reporters

    def follow_and_bind(self, reporter: Reporter, typo: bool) -> None:
        """关注 the 公众号, then 绑定 姓名 手机号 (a mistyped phone first, sometimes)."""
        if reporter.bound:
            return
        welcome = self.webhook.send(reporter.openid, "event", quiet=True, Event="subscribe")
        if welcome != texts.WELCOME:
            self.surprise("subscribe", welcome)
        phone = reporter.phone
        if typo:
            wrong = phone[:-1] + str((int(phone[-1]) + 1) % 10)
            reply = self.webhook.text(reporter.openid, f"绑定 {reporter.name} {wrong}", quiet=True)
            if not reply.startswith(texts.BIND_NO_MATCH):
                self.surprise("bind typo", reply)
            self.clock.now += timedelta(seconds=self.rng.randrange(40, 180))
        self.bind(reporter)

    def bind(self, reporter: Reporter) -> None:
        """绑定 姓名 手机号, written as people write it."""
        phone = reporter.phone
        form = self.rng.choice(BIND_FORMS)
        spaced = f"{phone[:3]} {phone[3:7]} {phone[7:]}"
        command = form.format(name=reporter.name, phone=phone, spaced=spaced)
        reply = self.webhook.text(reporter.openid, command, quiet=True)
        if said(reply, texts.BIND_OK, texts.BIND_ALREADY):
            reporter.bound = True
        else:
            self.surprise("bind", reply)

    def report(self, episode: Episode) -> None:
        """A 邻长 writes about a problem: text, photos, voice, as the episode says."""
        reporter, rng = episode.reporter, self.rng
        if not reporter.bound:
            # Unbound: some write the problem first and are told how to bind.
            if rng.random() < 0.5:
                reply = self.webhook.text(reporter.openid, episode.text, quiet=True)
                if reply != texts.BIND_HOW:
                    self.surprise("unbound report", reply)
                self.pause(1, 4)
            self.follow_and_bind(reporter, False)
            if not reporter.bound:
                return
            self.pause(1, 3)
        if episode.greet:
            reply = self.webhook.text(reporter.openid, rng.choice(GREETINGS), quiet=True)
            if not said(reply, texts.GREETING_REPLY, texts.DRAFT_STILL_WAITING):
                self.surprise("greeting", reply)
            self.pause(1, 3)
        style = episode.style
        if style in ("photo_first", "photo_only"):
            for _ in range(rng.choice((1, 1, 2, 3))):
                self.photo(reporter)
                self.pause(0.2, 1)
            if style == "photo_only":
                return
            self.pause(0.5, 3)
        if style == "voice_silent":
            self.voice(reporter, "")
            self.pause(0.5, 2)
        if style == "voice":
            reply = self.voice(reporter, re.sub(r"[，,！!：]", "", episode.text) + "。")
        else:
            reply = self.webhook.text(reporter.openid, episode.text)
        if not said(reply, texts.TICKET_CREATED):
            # Not taken as a problem: say it again, plainly.
            self.pause(2, 6)
            plain = PLAIN_PROBLEMS[episode.category].format(at=episode.place_text)
            reply = self.webhook.text(reporter.openid, plain)
            if not said(reply, texts.TICKET_CREATED):
                self.surprise("report", reply)
                return
        self.created(episode, reply)
        if style == "photo_after":
            self.pause(1, 5)
            reply = self.photo(reporter)
            if not said(reply, texts.ATTACHED):
                self.surprise("photo after", reply)

    def pause(self, low: float, high: float) -> None:
        """A person's pause between two messages, in minutes."""
        self.clock.now = whole_seconds(
            self.clock.now + timedelta(minutes=self.rng.uniform(low, high))
        )

    def photo(self, reporter: Reporter) -> str:
        """A photo from the phone's camera."""
        media = f"media-{next(self.sequence)}"
        return self.webhook.send(
            reporter.openid,
            "image",
            PicUrl=f"http://mmbiz.qpic.cn/demo/{media}.jpg",
            MediaId=media,
        )

    def voice(self, reporter: Reporter, recognition: str) -> str:
        """A voice note, with WeChat's recognition text when it gave one."""
        fields: dict[str, Any] = {"MediaId": f"voice-{next(self.sequence)}", "Format": "amr"}
        if recognition:
            fields["Recognition"] = recognition
        return self.webhook.send(reporter.openid, "voice", **fields)

    def created(self, episode: Episode, reply: str) -> None:
        """The ticket number is in the reply: remember it and check what the bot understood."""
        found = fields_of(reply, texts.TICKET_CREATED)
        if found is None:
            self.surprise("created", reply)
            return
        number = int(found["id"])
        episode.number = number
        self.tickets_seen += 1
        plan = self.plan(number)
        plan.reporter, plan.episode, plan.category = episode.reporter, episode, episode.category
        category_name = found["category"]
        urgent = (found["place"] + found["urgency"]).endswith(texts.URGENT_MARK)
        rng, reporter = self.rng, episode.reporter
        correction = None
        understood = self.category_code.get(category_name)
        if understood != episode.category and episode.invalid_reason is None:
            if rng.random() < 0.75:
                name = self.taxonomy.get(episode.category).name
                correction = f"改 类别 {rng.choice((name, name[:2]))}"
        elif episode.place_fix is not None:
            village, group = episode.place_fix
            correction = f"改 村 {village} {group}组"
        elif episode.urgent_ask and not urgent:
            correction = "改 紧急"
        elif urgent and not episode.urgent_ask and rng.random() < 0.08:
            correction = "改 不急"
        if correction is not None:
            self.at(
                self.clock.now + timedelta(minutes=rng.uniform(1, 6)),
                self.correct,
                plan,
                correction,
            )
        if episode.withdraw_reason is not None:
            later = self.clock.now + timedelta(minutes=rng.uniform(20, 150))
            self.at(later, self.withdraw, plan, episode.withdraw_reason)
        if episode.invalid_reason is not None:
            later = self.office.after(self.clock.now, rng.uniform(0.5, 4))
            self.at(later, self.dispatcher_invalid, plan, episode.invalid_reason)
        if episode.twin_of is not None and episode.twin_of.number is not None:
            later = self.office.after(self.clock.now, rng.uniform(0.3, 3))
            self.at(later, self.dispatcher_merge, plan, episode.twin_of.number)
        if rng.random() < 0.03:
            later = self.clock.now + timedelta(hours=rng.uniform(20, 60))
            self.at(later, self.ask_status, reporter, number)

    def correct(self, plan: Plan, correction: str) -> None:
        """改 类别 … / 改 村 … / 改 紧急: what the bot understood was not what was meant."""
        assert plan.reporter is not None
        reply = self.webhook.text(plan.reporter.openid, correction)
        if not said(reply, texts.CORRECTED):
            self.surprise("correction", reply)

    def withdraw(self, plan: Plan, reason: str) -> None:
        """撤回 #N: the problem went away by itself."""
        assert plan.reporter is not None
        if plan.stage not in ("assigned", "accepted"):
            return
        reply = self.webhook.text(plan.reporter.openid, f"撤回 #{plan.number} {reason}")
        if said(reply, texts.WITHDRAWN):
            self.gone(plan)
        else:
            self.surprise("withdraw", reply)

    def ask_status(self, reporter: Reporter, number: int) -> None:
        """查询 N, or 我的: where things stand."""
        command = f"查询 {number}" if self.rng.random() < 0.7 else "我的"
        reply = self.webhook.text(reporter.openid, command, quiet=True)
        if not (said(reply, texts.TICKET_STATUS) or reply.startswith(texts.MY_TICKETS_HEADER)):
            self.surprise("query", reply)

    def stranger(self, sender: str) -> None:
        """Someone not on the roster: writes a problem, tries to bind with their own name, stops."""
        reply = self.webhook.text(sender, self.rng.choice(STRANGER_TEXTS), quiet=True)
        if reply != texts.BIND_HOW:
            self.surprise("stranger", reply)
        self.pause(1, 5)
        phone = f"13{self.rng.randrange(10**9):09d}"
        name = f"王{self.rng.choice('明华丽')}"
        reply = self.webhook.text(sender, f"绑定 {name} {phone}", quiet=True)
        if not reply.startswith(texts.BIND_NO_MATCH):
            self.surprise("stranger bind", reply)

    def reporter_reads(self, reporter: Reporter, kind: str, number: int) -> None:
        """A 邻长 reads a notification about a ticket."""
        plan = self.plans.get(number)
        own = plan is not None and plan.reporter is reporter
        if kind == "resolved" and own:
            assert plan is not None
            reporter.awaiting.add(number)
            self.plan_rating(plan, asked_again=False)
        elif kind == "rating_reminder" and own:
            assert plan is not None
            if self.rng.random() < 0.45:
                self.plan_rating(plan, asked_again=True)
        elif kind == "rating_closed":
            reporter.awaiting.discard(number)
            if plan is not None:
                plan.stage = "closed"

    def plan_rating(self, plan: Plan, *, asked_again: bool) -> None:
        """满意 / 基本满意 / 不满意, in a while, or never (the 回访 job then asks and closes)."""
        rng = self.rng
        if not asked_again and rng.random() < 0.19:
            return  # silent: the follow-up job will ask again
        first = plan.resolutions <= 1 and not asked_again
        verb = rng.choices(("满意", "基本满意", "不满意"), (88, 9, 3) if first else (88, 12, 0))[0]
        later = self.clock.now + timedelta(minutes=rng.lognormvariate(math.log(90), 1.0))
        local = later.astimezone(LOCAL)
        if local.hour >= 22 or local.hour < 7:
            morning = local.date() + timedelta(days=1 if local.hour >= 22 else 0)
            later = at_local(morning, 7, rng.randrange(60)) + timedelta(minutes=rng.uniform(0, 90))
        self.at(later, self.rate, plan, verb)

    def rate(self, plan: Plan, verb: str) -> None:
        """The reporter's rating, written with or without the number."""
        reporter = plan.reporter
        assert reporter is not None
        if plan.number not in reporter.awaiting:
            return  # closed as unrated meanwhile
        rng = self.rng
        reason = f" {rng.choice(UNSATISFIED_REASONS)}" if verb == "不满意" else ""
        bare = verb != "不满意" and rng.random() < 0.3
        command = (
            f"{verb}{rng.choice(('', '，谢谢'))}"
            if bare
            else f"{verb}{rng.choice((' ', ' #', '#'))}{plan.number}{reason}"
        )
        reply = self.webhook.text(reporter.openid, command)
        if said(reply, texts.RATING_WHICH):
            self.pause(0.5, 2)
            reply = self.webhook.text(reporter.openid, f"{verb} {plan.number}{reason}")
        if said(reply, texts.RATING_THANKS):
            reporter.awaiting.discard(plan.number)
            plan.stage = "closed"
            if rng.random() < 0.1:
                self.pause(0.2, 2)
                thanks = self.webhook.text(reporter.openid, rng.choice(THANKS), quiet=True)
                if not said(thanks, texts.THANKS_REPLY, texts.DRAFT_STILL_WAITING):
                    self.surprise("thanks", thanks)
        elif said(reply, texts.RATING_UNSATISFIED):
            reporter.awaiting.discard(plan.number)
            plan.stage = "assigned"
            plan.reopened = True
        else:
            self.surprise("rating", reply)

    # ------------------------------------------------------------ cadres

    def plan(self, number: int) -> Plan:
        """The season's record of ticket `number`, made on first sight."""
        plan = self.plans.get(number)
        if plan is None:
            plan = self.plans[number] = Plan(number)
        return plan

    def gone(self, plan: Plan) -> None:
        """The ticket left the cadres' hands (withdrawn, merged, invalid): drop planned steps."""
        plan.stage = "gone"
        plan.token += 1

    def step(self, moment: datetime, plan: Plan, action: Callable[[Plan], None]) -> None:
        """Plan the ticket's next step, replacing any step planned before."""
        plan.token += 1
        self.at(moment, self.run_step, plan, plan.token, action)

    def run_step(self, plan: Plan, token: int, action: Callable[[Plan], None]) -> None:
        """Run a planned step unless it was re-planned or the ticket went away meanwhile."""
        if token == plan.token and plan.stage != "gone":
            action(plan)

    def cadre_reads(self, cadre: Cadre, kind: str, number: int, body: str) -> None:
        """Someone on 企业微信 reads a notification and plans what to do."""
        if kind != "assigned" and number not in self.plans:
            return  # a digest or an escalation about someone else's ticket: read, no action
        plan = self.plan(number)
        rng = self.rng
        dispatcher = cadre.person_id == self.roster.dispatcher.person_id
        if kind == "assigned":
            self.assigned(plan, cadre, body)
        elif kind == "reopened" and plan.assignee == cadre.person_id:
            plan.stage, plan.reopened = "assigned", True
            plan.ack_due, plan.resolve_due = deadlines_for(
                plan.urgent, plan.category, self.clock.now, sla=self.sla, calendar=self.calendar
            )
            plan.resolve_at = self.office.after(
                self.clock.now, rng.lognormvariate(math.log(8), 0.6)
            )
            self.step(self.office.after(self.clock.now, rng.uniform(0.3, 3)), plan, self.accept)
        elif kind in ("return_request", "extension_request") and dispatcher:
            later = self.office.after(self.clock.now, rng.uniform(0.3, 3))
            self.at(later, self.dispatcher_decides, plan, rng.random() < 0.9)
        elif kind == "extension_approved" and plan.assignee == cadre.person_id:
            plan.extension = "approved"
        elif kind == "extension_rejected" and plan.assignee == cadre.person_id:
            plan.extension = "rejected"
            plan.resolve_at = self.office.after(self.clock.now, rng.uniform(2, 10))
            self.step(plan.resolve_at, plan, self.resolve)
        elif kind == "return_rejected" and plan.assignee == cadre.person_id:
            plan.stage = "assigned"
            self.step(self.office.after(self.clock.now, rng.uniform(0.2, 2)), plan, self.accept)
        elif kind == "withdrawn" and plan.assignee == cadre.person_id:
            self.gone(plan)
        elif kind.startswith("sla_overdue") and plan.assignee == cadre.person_id:
            self.hurry(plan, kind.endswith("_ack"), overdue=True)
        elif (
            kind.startswith("sla_remind")
            and plan.assignee == cadre.person_id
            and rng.random() < 0.6  # most take a reminder to heart; the rest run late
        ):
            self.hurry(plan, kind.endswith("_ack"), overdue=False)

    def assigned(self, plan: Plan, cadre: Cadre, body: str) -> None:
        """A 【新工单】: the new assignee plans to sign for it (or pass it on)."""
        rng, now = self.rng, self.clock.now
        fields = fields_of(body, texts.NOTIFY_ASSIGNED) or {}
        where = fields.get("place", "") + fields.get("urgency", "")
        plan.assignee = cadre.person_id
        plan.urgent = where.endswith(texts.URGENT_MARK)
        plan.category = self.category_code.get(fields.get("category", ""), plan.category)
        plan.ack_due, plan.resolve_due = deadlines_for(
            plan.urgent, plan.category, now, sla=self.sla, calendar=self.calendar
        )
        if plan.stage == "gone":
            return
        plan.stage = "assigned"
        plan.resolve_at = None
        if cadre.person_id == self.roster.dispatcher.person_id:
            # A photo nobody described, released to the dispatcher: call the reporter, 派 it.
            village = next((v for v in self.roster.villages if where.startswith(v)), None)
            later = self.office.after(now, rng.uniform(0.5, 3))
            self.step(later, plan, lambda p: self.dispatcher_sends(p, village))
            return
        members = self.roster.unit_members.get(cadre.unit_id or -1, [])
        delegates = cadre.person_id in self.roster.unit_heads and members and not plan.transferred
        if delegates and rng.random() < 0.12:
            member = rng.choice(members)
            self.step(
                now + timedelta(minutes=rng.uniform(10, 90)),
                plan,
                lambda p: self.transfer(p, member),
            )
            return
        if not plan.returned and not plan.reopened and rng.random() < 0.03:
            plan.returned = True
            self.step(self.office.after(now, rng.uniform(0.3, 3)), plan, self.give_back)
            return
        self.step(self.ack_time(plan), plan, self.accept)

    def ack_time(self, plan: Plan) -> datetime:
        """When the assignee signs: within hours mostly, a few late enough to be escalated."""
        rng, now = self.rng, self.clock.now
        assert plan.ack_due is not None
        if plan.urgent:
            local = now.astimezone(LOCAL)
            if (local.hour >= 22 or local.hour < 7) and rng.random() < 0.4:
                morning = local.date() + timedelta(days=1 if local.hour >= 22 else 0)
                return at_local(morning, 7, rng.randrange(60))
            if rng.random() < 0.04:
                return plan.ack_due + timedelta(minutes=rng.uniform(10, 150))
            minutes = min(rng.lognormvariate(math.log(30), 0.6), 110)
            return now + timedelta(minutes=minutes)
        if rng.random() < 0.05:
            return self.office.after(plan.ack_due, rng.uniform(0.5, 8))
        moment = self.office.after(now, rng.lognormvariate(math.log(1.2), 0.8))
        if moment >= plan.ack_due:
            moment = max(now, plan.ack_due - timedelta(minutes=rng.uniform(10, 90)))
        return moment

    def resolve_time(self, plan: Plan) -> datetime:
        """When the work is done: hours for urgent problems, working days for the rest."""
        rng, now = self.rng, self.clock.now
        assert plan.resolve_due is not None
        if plan.urgent:
            if rng.random() < 0.04:
                return plan.resolve_due + timedelta(hours=rng.uniform(1, 10))
            hours = min(rng.lognormvariate(math.log(5), 0.6), 22)
            return min(now + timedelta(hours=hours), plan.resolve_due - timedelta(minutes=20))
        category = plan.category or "other"
        draw = rng.random()
        if draw < 0.04:
            return self.office.after(plan.resolve_due, rng.uniform(2, 14))
        if draw < 0.08 and category in BIG_JOBS and not plan.reopened:
            # Works that need materials, weather or the county: more time is asked for.
            plan.extension = "wanted"
            return self.office.after(plan.resolve_due, rng.uniform(4, 30))
        median = RESOLVE_OFFICE_HOURS.get(category, 8)
        moment = self.office.after(now, rng.lognormvariate(math.log(median), 0.8))
        if moment >= plan.resolve_due:
            moment = max(now, plan.resolve_due - timedelta(hours=rng.uniform(1, 20)))
        return moment

    def clear_desks(self, eve: date) -> None:
        """节前清零: on the last working day before a long holiday, what can be done is done."""
        rng, now = self.rng, self.clock.now
        closing = at_local(eve, 17, 20)
        for plan in self.plans.values():
            if plan.stage != "accepted" or plan.extension in ("asked", "approved"):
                continue
            if plan.resolve_at is not None and plan.resolve_at > closing and rng.random() < 0.9:
                plan.resolve_at = now + (closing - now) * rng.random()
                self.step(plan.resolve_at, plan, self.resolve)

    def hurry(self, plan: Plan, ack: bool, *, overdue: bool) -> None:
        """A reminder or an overdue notice makes the assignee act sooner."""
        rng, now = self.rng, self.clock.now
        if ack and plan.stage == "assigned":
            soon = self.office.after(now, rng.uniform(0.2, 1.5 if overdue else 3))
            self.step(soon, plan, self.accept)
        elif not ack and plan.stage == "accepted" and plan.extension not in ("asked", "approved"):
            soon = self.office.after(now, rng.uniform(1, 8 if overdue else 12))
            if plan.resolve_at is None or plan.resolve_at > soon:
                plan.resolve_at = soon
                self.step(soon, plan, self.resolve)

    def cadre_says(self, plan: Plan, text: str) -> str:
        """The assignee's message on 企业微信."""
        assert plan.assignee is not None
        cadre = self.roster.cadres[plan.assignee]
        return self.webhook.text(cadre.userid, text, wecom=True)

    def accept(self, plan: Plan) -> None:
        """签收 N (or 接单), then plan the work."""
        rng = self.rng
        verb = rng.choices(("签收 {n}", "签收#{n}", "接单 {n}", "签收 {n}号"), (70, 12, 10, 8))[0]
        reply = self.cadre_says(plan, verb.format(n=plan.number))
        if not said(reply, texts.ACCEPTED):
            self.surprise("accept", reply)
            return
        plan.stage = "accepted"
        if plan.resolve_at is None or plan.resolve_at <= self.clock.now:
            plan.resolve_at = self.resolve_time(plan)
        span = plan.resolve_at - self.clock.now
        plan.notes_left = 0
        if span > timedelta(hours=20):
            plan.notes_left = rng.choices((0, 1, 2), (45, 40, 15))[0]
        self.next_step(plan)

    def next_step(self, plan: Plan) -> None:
        """Progress notes while the work goes on, an extension when it will run late, 办结."""
        rng, now = self.rng, self.clock.now
        assert plan.resolve_at is not None
        if plan.extension == "wanted" and plan.resolve_due is not None:
            ask = max(now, self.office.after(plan.resolve_due - timedelta(days=3), 1))
            if ask < plan.resolve_due:
                self.step(ask, plan, self.extend)
                return
            plan.extension = None
        if plan.notes_left > 0:
            fraction = rng.uniform(0.2, 0.7)
            note_at = now + (plan.resolve_at - now) * fraction
            self.step(note_at, plan, self.progress)
            return
        self.step(plan.resolve_at, plan, self.resolve)

    def progress(self, plan: Plan) -> None:
        """进度 N 内容."""
        note = self.rng.choice(
            PROGRESS_NOTES.get(plan.category or "other", PROGRESS_NOTES["other"])
        )
        reply = self.cadre_says(plan, f"进度 {plan.number} {note}")
        if not said(reply, texts.PROGRESS_RECORDED):
            self.surprise("progress", reply)
        plan.notes_left -= 1
        self.next_step(plan)

    def extend(self, plan: Plan) -> None:
        """延期 N 天数 原因: the work needs longer than the limit."""
        rng = self.rng
        days = rng.choice((3, 5, 5, 7, 10))
        reason = rng.choice(EXTENSION_REASONS)
        reply = self.cadre_says(plan, f"延期 {plan.number} {days}{rng.choice(('', '天'))} {reason}")
        assert plan.resolve_due is not None and plan.resolve_at is not None
        if not said(reply, texts.EXTENSION_REQUESTED):
            self.surprise("extension", reply)
            plan.extension = None
        else:
            plan.extension = "asked"
            # Done within the days asked for, whatever the dispatcher says.
            limit = self.calendar.add_working_days(plan.resolve_due, days)
            if plan.resolve_at >= limit:
                plan.resolve_at = limit - timedelta(hours=rng.uniform(2, 30))
        self.step(max(self.clock.now, plan.resolve_at), plan, self.resolve)

    def resolve(self, plan: Plan) -> None:
        """办结 N 结果 (or 完成 N …); the reporter is then asked to rate."""
        rng = self.rng
        if plan.stage == "assigned":
            self.accept_quietly(plan)
        if plan.episode is not None and plan.episode.problem[1]:
            result = plan.episode.problem[1]
        else:
            result = rng.choice(GENERIC_RESULTS)
        if plan.reopened:
            result = f"重新处理：{result}"
        verb = rng.choices(("办结", "完成"), (85, 15))[0]
        reply = self.cadre_says(plan, f"{verb} {plan.number} {result}")
        if not said(reply, texts.RESOLVED):
            self.surprise("resolve", reply)
            return
        plan.stage = "resolved"
        plan.resolutions += 1
        plan.resolve_at = None

    def accept_quietly(self, plan: Plan) -> None:
        """Signs first when still unsigned (a reopened ticket is back to 已派单)."""
        reply = self.cadre_says(plan, f"签收 {plan.number}")
        if said(reply, texts.ACCEPTED):
            plan.stage = "accepted"

    def give_back(self, plan: Plan) -> None:
        """退回 N 原因: not ours; the dispatcher decides."""
        reply = self.cadre_says(plan, f"退回 {plan.number} {self.rng.choice(RETURN_REASONS)}")
        if said(reply, texts.RETURN_REQUESTED):
            plan.stage = "returned"
        else:
            self.surprise("return", reply)

    def transfer(self, plan: Plan, member: Cadre) -> None:
        """转办 N 姓名 to a colleague of the unit; by phone when the name is not unique."""
        plan.transferred = True
        reply = self.cadre_says(plan, f"转办 {plan.number} {member.name}")
        if said(reply, texts.PERSON_AMBIGUOUS):
            self.pause(1, 4)
            reply = self.cadre_says(plan, f"转办 {plan.number} {member.phone}")
        if not said(reply, texts.TRANSFERRED):
            self.surprise("transfer", reply)

    # ------------------------------------------------------------ the dispatcher

    def dispatcher_says(self, text: str) -> str:
        """The dispatcher's message on 企业微信."""
        return self.webhook.text(self.roster.dispatcher.userid, text, wecom=True)

    def dispatcher_decides(self, plan: Plan, approve: bool) -> None:
        """同意 N, or 驳回 N 原因, on a pending 退回 or 延期."""
        if plan.stage == "gone":
            return  # merged or marked invalid meanwhile: nothing left to decide
        if approve:
            reply = self.dispatcher_says(f"同意 {plan.number}")
            ok = said(reply, texts.RETURN_APPROVED, texts.EXTENSION_APPROVED)
        else:
            reason = self.rng.choice(REJECT_REASONS)
            reply = self.dispatcher_says(f"驳回 {plan.number} {reason}")
            ok = said(reply, texts.REQUEST_REJECTED)
        if not ok:
            self.surprise("decision", reply)

    def dispatcher_sends(self, plan: Plan, village: str | None) -> None:
        """派 N 姓名: a released photo goes to the cadre of the village it came from."""
        cadre = self.roster.village_cadre.get(village or "")
        if cadre is None:
            cadre = next(iter(self.roster.village_cadre.values()))
        reply = self.dispatcher_says(f"派 {plan.number} {cadre.name}")
        if said(reply, texts.PERSON_AMBIGUOUS):
            self.pause(1, 3)
            reply = self.dispatcher_says(f"派 {plan.number} {cadre.phone}")
        if not said(reply, texts.ASSIGNED_BY_DISPATCHER):
            self.surprise("dispatch", reply)

    def dispatcher_merge(self, plan: Plan, target: int) -> None:
        """合并 N 目标: the same problem reported twice."""
        if plan.stage not in ("assigned", "accepted", "returned"):
            return
        reply = self.dispatcher_says(f"合并 {plan.number} {target}")
        if said(reply, texts.MERGED):
            self.gone(plan)
        else:
            self.surprise("merge", reply)

    def dispatcher_invalid(self, plan: Plan, reason: str) -> None:
        """无效 N 原因: not a problem for the town."""
        if plan.stage not in ("assigned", "accepted", "returned"):
            return
        reply = self.dispatcher_says(f"无效 {plan.number} {reason}")
        if said(reply, texts.MARKED_INVALID):
            self.gone(plan)
        else:
            self.surprise("invalid", reply)

    # ------------------------------------------------------------ the end

    def ticket_states(self) -> Counter[str]:
        """How many tickets are in each state at the end."""
        with read_session(self.engine) as session:
            rows = session.exec(select(Ticket.state, func.count()).group_by(Ticket.state)).all()
        return Counter({state: int(count) for state, count in rows})

    def figures(self) -> Report:
        """The town's figures for the season, as `grievance-bot report` computes them."""
        first = local_midnight(date(SEASON_START.year, SEASON_START.month, 1))
        scope = Scope(start=first, end=self.end, as_of=self.end)
        with read_session(self.engine) as session:
            return compute_report(session, scope, config=self.files.figures)


# ---------------------------------------------------------------- the database


def prepare_database(engine: Engine, *, reset: bool) -> str:
    """Ready the database for a season: the demo town in it, no tickets yet; what was done."""
    town_name = load_demo_config().town
    with read_session(engine) as session:
        has_tickets = session.exec(select(Ticket.id).limit(1)).first() is not None
        empty = database_is_empty(session)
        has_town = (
            session.exec(
                select(Place.id).where(Place.name == town_name, Place.kind == PlaceKind.town.value)
            ).first()
            is not None
        )
        real_people = session.exec(
            select(func.count())
            .select_from(Person)
            .where(~col(Person.phone).startswith(DEMO_PHONE_PREFIX))
        ).one()
    if not empty and (not has_town or real_people):
        raise ScenarioRefused(
            f"数据库里有{town_name}以外的名册，演示季只在演示镇的数据库里运行；"
            "请用 GRIEVANCE_DATABASE_URL 或 GRIEVANCE_INSTANCE_PATH 指定另一个数据库。"
        )
    if has_tickets and not reset:
        raise ScenarioRefused(
            "数据库里已经有工单了。加 --reset 清空演示数据（工单、绑定、消息）后重新模拟。"
        )
    prefix = ""
    if reset and not empty:
        wipe(engine)
        empty, prefix = True, "已清空演示数据库，"
    if not empty:
        return f"用数据库里已有的演示镇 {town_name}（还没有工单）。"
    with unit_of_work(engine) as session:
        seed_demo_town(session)
    return f"{prefix}已生成演示镇 {town_name}。"


def wipe(engine: Engine) -> None:
    """Delete every row of every table, numbering from 1 again (a demo database only)."""
    tables = [t for t in reversed(SQLModel.metadata.sorted_tables) if t.name != "alembic_version"]
    with unit_of_work(engine) as session:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                session.execute(table.delete())


# ---------------------------------------------------------------- the command


def summary_lines(result: SeasonResult) -> list[str]:
    """What the season did and the town's figures at its end."""
    report = result.report
    fields = headline_fields(report)
    messages = sum(result.messages.values())
    states = "，".join(
        f"{STATE_NAMES.get(TicketState(state), state)} {count}"
        for state, count in sorted(result.states.items(), key=lambda item: -item[1])
    )
    lines = [
        f"演示季 {result.start:%Y-%m-%d} 至 {result.end:%Y-%m-%d}（种子 {result.seed}，"
        f"{result.months} 个月）用时 {result.seconds:.1f} 秒。",
        f"发出消息 {messages} 条（公众号 {result.messages['wechat']}，"
        f"企业微信 {result.messages['wecom']}），送达通知 {result.delivered} 条，"
        f"定时任务 {sum(result.job_runs.values())} 次。",
        f"工单 {sum(result.states.values())} 件：{states}。",
        headline(report),
        texts.REPORT_TOTALS.format(**fields),
        texts.REPORT_RATES.format(**fields),
        texts.REPORT_MORE.format(**fields),
    ]
    if result.surprises:
        unexpected = "，".join(f"{what} {count}" for what, count in result.surprises.items())
        lines.append(f"意外回复：{unexpected}")
    first = date(result.start.year, result.start.month, 1)
    lines.append(f"报表：grievance-bot report --from {first:%Y-%m-%d} --to {result.end:%Y-%m-%d}")
    return lines


@click.command("scenario")
@click.option(
    "--seed", default=DEFAULT_SEED, show_default=True, type=int, help="随机种子：同一种子，同一季"
)
@click.option(
    "--months",
    default=9,
    show_default=True,
    type=click.IntRange(1, MAX_MONTHS),
    help="模拟几个月（从2026年1月5日起）",
)
@click.option("--reset", is_flag=True, help="先清空演示数据库（工单、绑定、消息），再重新模拟")
def scenario(seed: int, months: int, reset: bool) -> None:
    """Play a season in the demo town through the webhook, then print the town's figures."""
    settings = get_settings()
    if settings.is_production:
        raise ScenarioRefused("GRIEVANCE_ENV=production：生产环境不能运行演示季。")
    with open_database(settings) as engine:
        click.echo(prepare_database(engine, reset=reset))
        result = Season(engine, settings, seed=seed, months=months).play()
    for line in summary_lines(result):
        click.echo(line)
