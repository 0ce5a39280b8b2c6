"""Words the models write into shared records: timeline notes every surface shows as stored."""

from __future__ import annotations

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
CORRECTED_GROUP = "{number}组"
CORRECTED_URGENT = "改为紧急"
CORRECTED_NOT_URGENT = "改为不急"
# An assignment's note: "曾香军｜unit_head:水利站" (who, and the route that chose them).
ASSIGNED_NOTE = "{name}｜{route}"
ASSIGNED_NOTE_SEPARATOR = "｜"
TRANSITION_REFUSED = "工单 #{id} 当前状态不能进行这一步"
# A 组 created for a number the roster did not have: "3组".
GROUP_NAME = "{number}组"
# A village name as people shorten it: 张家村 → 张家, 城南社区 → 城南.
VILLAGE_SUFFIXES = ("村", "社区")
