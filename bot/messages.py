"""Every user-facing sentence the product says outside the trees, in both languages."""

from __future__ import annotations

from typing import Final

MESSAGES: Final[dict[str, dict[str, str]]] = {
    "app_name": {"en": "EthicsBot", "zh": "道德助手"},
    "pick_topic": {
        "en": "What would you like to think through? Everything here is private to you.",
        "zh": "你想梳理哪类问题？这里的内容只有你自己能看到。",
    },
    "not_sure": {"en": "Not sure which topic", "zh": "不确定属于哪类"},
    "back": {"en": "Back", "zh": "上一步"},
    "continue": {"en": "Continue", "zh": "继续"},
    "submit": {"en": "Submit", "zh": "提交"},
    "skip": {"en": "Skip", "zh": "跳过"},
    "save_exit": {"en": "Save and finish later", "zh": "保存，稍后继续"},
    "saved": {
        "en": "Saved. Resume any time with /ethics or from the EthicsBot Home tab.",
        "zh": "已保存。可随时通过 /ethics 或道德助手主页继续。",
    },
    "send_record": {"en": "Send the decision record to my DMs", "zh": "把决策记录发到我的私信"},
    "record_sent": {"en": "The decision record is in your DMs.", "zh": "决策记录已发到你的私信。"},
    "record_title": {"en": "Decision record", "zh": "决策记录"},
    "advice": {"en": "What to do", "zh": "建议做法"},
    "cites": {"en": "Based on", "zh": "依据"},
    "reflect": {"en": "Reflect", "zh": "反思"},
    "weigh": {"en": "Weigh it with PLUS", "zh": "用 PLUS 原则衡量"},
    "severity": {"en": "Severity", "zh": "严重程度"},
    "escalation_required": {
        "en": "This must be reported to compliance. You choose how: named, confidential or anonymous.",
        "zh": "此事必须报告合规部门。你可以选择实名、保密或匿名方式。",
    },
    "escalation_offered": {
        "en": "You may report this to compliance if you want backing or are unsure.",
        "zh": "如需支持或仍有疑虑，你可以向合规部门报告。",
    },
    "handoff": {"en": "Continue with: {title}", "zh": "继续：{title}"},
    "stale": {
        "en": "That question was already answered; here is where you are now.",
        "zh": "该问题已回答，以下是你当前的进度。",
    },
    "not_yours": {
        "en": "That consultation belongs to someone else, so nothing was changed.",
        "zh": "该咨询属于其他同事，未作任何更改。",
    },
    "invalid": {"en": "That answer does not fit this question.", "zh": "该回答与当前问题不符。"},
    "unknown_topic": {
        "en": "I don't know the topic '{query}'. Pick one below.",
        "zh": "没有找到主题“{query}”。请从下面选择。",
    },
    "gone": {
        "en": "That consultation no longer exists (it may have expired).",
        "zh": "该咨询已不存在（可能已过期）。",
    },
    "lang_set": {"en": "Language set to English.", "zh": "语言已设为中文。"},
    "help": {
        "en": (
            "*EthicsBot* walks you through the bank's four-step ethical decision method, "
            "privately.\n"
            "• `/ethics` — pick a topic\n"
            "• `/ethics <topic>` — start straight away (confidentiality, fair, honesty, "
            "gift, triage …)\n"
            "• `/ethics lang zh|en` — language\n"
            "• `/ethics help` — this text\n"
            "EthicsBot is not a hotline and not legal advice. For anything urgent, call your "
            "compliance officer directly."
        ),
        "zh": (
            "*道德助手* 私下引导你按照银行的伦理决策四步法思考问题。\n"
            "• `/ethics` — 选择主题\n"
            "• `/ethics <主题>` — 直接开始（如 confidentiality、fair、honesty、gift、triage）\n"
            "• `/ethics lang zh|en` — 切换语言\n"
            "• `/ethics help` — 查看本说明\n"
            "道德助手不是举报热线，也不提供法律意见。紧急情况请直接联系合规人员。"
        ),
    },
    "about": {
        "en": (
            "EthicsBot helps you think a situation through with the four-step method: "
            "identify the issue, gather the facts, evaluate the options, decide and reflect. "
            "Your consultations are private to you. It is *not* a hotline and *not* legal "
            "advice: for anything urgent, contact compliance directly."
        ),
        "zh": (
            "道德助手通过四步法帮助你梳理情况：识别伦理问题、收集相关信息、评估各种选择、"
            "做出决策并反思。你的咨询只有你自己可见。它*不是*举报热线，也*不*提供法律意见；"
            "紧急情况请直接联系合规部门。"
        ),
    },
    "unfinished": {"en": "Unfinished consultations", "zh": "未完成的咨询"},
    "recent": {"en": "Recent decision records", "zh": "最近的决策记录"},
    "none_yet": {"en": "Nothing yet.", "zh": "暂无。"},
    "resume": {"en": "Resume", "zh": "继续"},
    "view": {"en": "View", "zh": "查看"},
    "start": {"en": "Start a consultation", "zh": "开始咨询"},
    "about_message": {
        "en": "You are asking about a message in <#{channel}>. Its text is not copied here.",
        "zh": "你正在就 <#{channel}> 中的一条消息进行咨询。消息内容不会被复制到这里。",
    },
    "error": {
        "en": "Sorry — something went wrong on our side and nothing was lost. Try again, or "
              "contact compliance directly if it is urgent.",
        "zh": "抱歉，系统出现问题，但没有丢失任何内容。请重试；如情况紧急，请直接联系合规部门。",
    },
}


def msg(key: str, lang: str, **kwargs: str) -> str:
    text = MESSAGES[key]["zh" if lang == "zh" else "en"]
    return text.format(**kwargs) if kwargs else text
