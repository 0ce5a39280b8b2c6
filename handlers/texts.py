"""Every sentence the bot says to people, in one place so wording can be reviewed without logic."""

from __future__ import annotations

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

WELCOME = (
    "欢迎关注！本号用于邻长、组长、片长反映群众急难愁盼问题。\n"
    "首次使用请先绑定：发送“绑定 姓名 手机号”，例如“绑定 张三 13800000000”。\n"
    "干部请发送“绑定 邀请码”。发送“帮助”查看更多。"
)

INTERNAL_ERROR = "系统繁忙，您的消息没有处理成功，请过一分钟再发一次。"
