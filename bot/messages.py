"""Every user-facing sentence the product says outside the trees, in both languages.

The texts are platform-neutral: `**bold**` and `` `code` `` are the only markup, and each
adapter renders them (Slack's mrkdwn wants `*bold*`; Teams' Markdown takes them as they are).
Where a sentence must differ per platform (how to reach the bot, what the platform itself
records) the key has variants `key.slack` / `key.teams`, and the slots `{status_cmd}`,
`{privacy_note}` and `{reach_me}` are filled from the variants of the platform asked for.
"""

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
        "en": "Saved. Resume any time: {reach_me}.",
        "zh": "已保存。可随时继续：{reach_me}。",
    },
    "reach_me.slack": {
        "en": "type `/ethics` or open the EthicsBot Home tab",
        "zh": "输入 `/ethics` 或打开道德助手主页",
    },
    "reach_me.teams": {
        "en": "type `ethics` in your chat with EthicsBot",
        "zh": "在与道德助手的聊天中输入 `ethics`",
    },
    "reach_me.console": {"en": "run `ethicsbot demo` again", "zh": "再次运行 `ethicsbot demo`"},
    "status_cmd.slack": {"en": "`/ethics status`", "zh": "`/ethics status`"},
    "status_cmd.teams": {
        "en": "`status` (typed in your chat with EthicsBot)",
        "zh": "`status`（在与道德助手的聊天中输入）",
    },
    "privacy_note.slack": {
        "en": "Slack itself records that you used the app",
        "zh": "Slack 本身会记录你使用了本应用",
    },
    "privacy_note.teams": {
        "en": "Microsoft 365 keeps its own record that you chatted with the app",
        "zh": "Microsoft 365 会保留你与本应用聊天的记录",
    },
    "send_record": {
        "en": "Send me the decision record as a private message",
        "zh": "把决策记录以私信发给我",
    },
    "record_sent": {
        "en": "The decision record is in your private chat with EthicsBot.",
        "zh": "决策记录已发到你与道德助手的私聊。",
    },
    "record_title": {"en": "Decision record", "zh": "决策记录"},
    "advice": {"en": "What to do", "zh": "建议做法"},
    "cites": {"en": "Based on", "zh": "依据"},
    "reflect": {"en": "Reflect", "zh": "反思"},
    "weigh": {"en": "Weigh it with PLUS", "zh": "用 PLUS 原则衡量"},
    "severity": {"en": "Severity", "zh": "严重程度"},
    "sev_none": {"en": "none", "zh": "无"},
    "sev_low": {"en": "low", "zh": "低"},
    "sev_medium": {"en": "medium", "zh": "中"},
    "sev_high": {"en": "high", "zh": "高"},
    "sev_critical": {"en": "critical", "zh": "严重"},
    "escalation_required": {
        "en": "This must be reported to compliance. "
        "You choose how: named, confidential or anonymous.",
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
    "help.slack": {
        "en": (
            "**EthicsBot** walks you through the bank's four-step ethical decision method, "
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
            "**道德助手** 私下引导你按照银行的伦理决策四步法思考问题。\n"
            "• `/ethics` — 选择主题\n"
            "• `/ethics <主题>` — 直接开始（如 confidentiality、fair、honesty、gift、triage）\n"
            "• `/ethics lang zh|en` — 切换语言\n"
            "• `/ethics help` — 查看本说明\n"
            "道德助手不是举报热线，也不提供法律意见。紧急情况请直接联系合规人员。"
        ),
    },
    "help.teams": {
        "en": (
            "**EthicsBot** walks you through the bank's four-step ethical decision method, "
            "privately, in this chat.\n"
            "• `ethics` — pick a topic\n"
            "• a topic or a few words of what happened — start straight away "
            "(confidentiality, fair, honesty, gift, triage …)\n"
            "• `report` — speak up to compliance; `status` — follow a report\n"
            "• `lang zh` / `lang en` — language\n"
            "• `help` — this text\n"
            "EthicsBot is not a hotline and not legal advice. For anything urgent, call your "
            "compliance officer directly."
        ),
        "zh": (
            "**道德助手** 在本聊天中私下引导你按照银行的伦理决策四步法思考问题。\n"
            "• `ethics` — 选择主题\n"
            "• 主题或几句话描述发生了什么 — 直接开始"
            "（如 confidentiality、fair、honesty、gift、triage）\n"
            "• `report` — 向合规部门报告；`status` — 查看报告进展\n"
            "• `lang zh` / `lang en` — 切换语言\n"
            "• `help` — 查看本说明\n"
            "道德助手不是举报热线，也不提供法律意见。紧急情况请直接联系合规人员。"
        ),
    },
    "about": {
        "en": (
            "EthicsBot helps you think a situation through with the four-step method: "
            "identify the issue, gather the facts, evaluate the options, decide and reflect. "
            "Your consultations are private to you. It is **not** a hotline and **not** legal "
            "advice: for anything urgent, contact compliance directly."
        ),
        "zh": (
            "道德助手通过四步法帮助你梳理情况：识别伦理问题、收集相关信息、评估各种选择、"
            "做出决策并反思。你的咨询只有你自己可见。它**不是**举报热线，也**不**提供法律意见；"
            "紧急情况请直接联系合规部门。"
        ),
    },
    "contact": {"en": "Reach compliance directly: {contact}", "zh": "直接联系合规部门：{contact}"},
    "unfinished": {"en": "Unfinished consultations", "zh": "未完成的咨询"},
    "recent": {"en": "Recent decision records", "zh": "最近的决策记录"},
    "none_yet": {"en": "Nothing yet.", "zh": "暂无。"},
    "resume": {"en": "Resume", "zh": "继续"},
    "view": {"en": "View", "zh": "查看"},
    "start": {"en": "Start a consultation", "zh": "开始咨询"},
    "about_message": {
        "en": "You are asking about a message in {channel}. Its text is not copied here.",
        "zh": "你正在就 {channel} 中的一条消息进行咨询。消息内容不会被复制到这里。",
    },
    "report_button": {"en": "Report to compliance…", "zh": "向合规部门报告……"},
    "report_title": {"en": "Speak up", "zh": "报告问题"},
    "report_intro": {
        "en": "Choose how compliance will know you. Read what each option protects and what "
        "it cannot.",
        "zh": "请选择合规部门如何知道你的身份。请先了解每种方式能保护什么、不能保护什么。",
    },
    "mode_named": {"en": "Named", "zh": "实名"},
    "mode_named_help": {
        "en": "Compliance officers on the case see who you are and can talk to you directly.",
        "zh": "负责此案的合规人员能看到你的身份，并可直接与你沟通。",
    },
    "mode_confidential": {"en": "Confidential", "zh": "保密"},
    "mode_confidential_help": {
        "en": "Your identity is stored but shown only to the officer assigned to the case; it "
        "goes further only if you yourself consent.",
        "zh": "系统保存你的身份，但只向负责此案的合规人员显示；只有你本人同意才会进一步披露。",
    },
    "mode_anonymous": {"en": "Anonymous", "zh": "匿名"},
    "mode_anonymous_help": {
        "en": "EthicsBot stores nothing that identifies you, and deletes this consultation. "
        "You get a receipt code; with it and your passphrase, {status_cmd} shows "
        "compliance's questions. What it cannot do: {privacy_note}, and details in your "
        "report may point to you.",
        "zh": "道德助手不保存任何能识别你的信息，并删除本次咨询记录。你会得到一个回执码，"
        "凭回执码和你设置的口令，可通过 {status_cmd} 查看合规部门的提问。"
        "局限：{privacy_note}，报告中的细节也可能让人推断出你的身份。",
    },
    "narrative": {
        "en": "What happened (optional, seen only by compliance officers)",
        "zh": "事情经过（选填，仅合规人员可见）",
    },
    "narrative_hint": {
        "en": "Facts, dates, what you saw. No customer account numbers.",
        "zh": "事实、日期、你看到的情况。不要填写客户账号。",
    },
    "exclude": {
        "en": "Officers who must not handle this (conflict of interest)",
        "zh": "不应处理此事的合规人员（利益冲突）",
    },
    "passphrase": {
        "en": "Passphrase (anonymous only, at least 8 characters)",
        "zh": "口令（仅匿名时填写，至少 8 个字符）",
    },
    "passphrase_short": {
        "en": "An anonymous report needs a passphrase of at least 8 characters.",
        "zh": "匿名报告需要设置至少 8 个字符的口令。",
    },
    "topic_label": {"en": "What is it about?", "zh": "涉及哪方面？"},
    "invalid_mode": {
        "en": "Choose how compliance will know you: named, confidential or anonymous.",
        "zh": "请选择合规部门如何知道你的身份：实名、保密或匿名。",
    },
    "no_escalation": {
        "en": "This outcome does not call for a report. If you still want to speak up, "
        "start a new report without a consultation.",
        "zh": "此结论无需报告。如仍想报告，请不经咨询直接新建报告。",
    },
    "duplicate": {
        "en": "This report is already recorded; it was not sent twice.",
        "zh": "这份报告已记录，没有重复发送。",
    },
    "consent_thanks": {
        "en": "Thank you — the case team may now see your identity.",
        "zh": "谢谢，办案团队现在可以看到你的身份。",
    },
    "reporter_answered": {
        "en": "The reporter answered on {ref}. Open **View details** to read it.",
        "zh": "报告人已就 {ref} 作出回复。请打开 **查看详情** 阅读。",
    },
    "compliance_asks": {"en": "**{ref}** — compliance asks:", "zh": "**{ref}** — 合规部门提问："},
    "consent_offer": {
        "en": "Your identity is visible only to the assigned officer. You may allow the case "
        "team to see it:",
        "zh": "你的身份只对负责此案的合规人员可见。你可以同意让办案团队看到：",
    },
    "consent_button": {"en": "I consent to share my identity", "zh": "我同意披露我的身份"},
    "monthly_report": {
        "en": "**Compliance report for {month}**: cases by topic and severity, days to "
        "acknowledge and to close against the legal clocks, and follow-up rates. The numbers "
        "are in the attached CSV too.",
        "zh": "**{month} 合规月报**：按主题和严重程度统计的案件、确认和结案用时与法定时限的对比，"
        "以及跟进率。相同数据见附件 CSV。",
    },
    "question_for_you": {
        "en": "{ref}: compliance has a question for you",
        "zh": "{ref}：合规部门有问题想问你",
    },
    "report_done": {
        "en": "Your report {ref} is recorded. Compliance must acknowledge it by {due}.",
        "zh": "你的报告 {ref} 已记录。合规部门须在 {due} 前确认收到。",
    },
    "receipt": {
        "en": "Your receipt code: **{code}**. Write it down now — it is shown only once. With it "
        "and your passphrase, {status_cmd} shows the status and compliance's questions.",
        "zh": "你的回执码：**{code}**。请立即记下——它只显示这一次。凭回执码和口令，"
        "可通过 {status_cmd} 查看进展和合规部门的提问。",
    },
    "rate_limited": {
        "en": "You have sent several reports in the last hour; please wait a little, or contact "
        "compliance directly if it is urgent.",
        "zh": "你在过去一小时内已提交多份报告，请稍后再试；如情况紧急，请直接联系合规部门。",
    },
    "status_title": {"en": "My reports", "zh": "我的报告"},
    "receipt_label": {"en": "Receipt code", "zh": "回执码"},
    "bad_receipt": {
        "en": "That receipt code and passphrase do not match a report.",
        "zh": "回执码与口令不匹配。",
    },
    "locked": {
        "en": "Too many wrong passphrases: this receipt is locked. Contact compliance.",
        "zh": "口令错误次数过多，此回执已锁定。请联系合规部门。",
    },
    "answer_label": {"en": "Your answer to compliance", "zh": "你对合规部门的回复"},
    "no_questions": {"en": "No questions from compliance yet.", "zh": "合规部门暂无提问。"},
    "not_officer": {
        "en": "Only compliance officers can do that. Your attempt was recorded.",
        "zh": "只有合规人员可以执行此操作。本次尝试已被记录。",
    },
    "excluded": {
        "en": "You are excluded from this case. Your attempt was recorded.",
        "zh": "你已被排除在此案之外。本次尝试已被记录。",
    },
    "case_closed": {"en": "That case is closed.", "zh": "该案件已结案。"},
    "case_stale": {"en": "That case has already moved on.", "zh": "该案件状态已变化。"},
    "empty": {"en": "Please write something.", "zh": "请填写内容。"},
    "not_officer_target": {
        "en": "That person is not a compliance officer.",
        "zh": "此人不是合规人员。",
    },
    "not_trainer": {
        "en": "Only trainers can schedule or cancel exercises. Your attempt was recorded.",
        "zh": "只有培训师可以安排或取消练习。本次尝试已被记录。",
    },
    "bad_schedule": {
        "en": "That schedule cannot be used: {detail}",
        "zh": "无法使用该安排：{detail}",
    },
    "exercise_closed": {
        "en": "This exercise is closed; the answers have been revealed.",
        "zh": "本练习已结束，答案已公布。",
    },
    "answer_recorded": {
        "en": "Your answer: **{option}** ({label}). Only you can see this; you can change it "
        "until the reveal.",
        "zh": "你的选择：**{option}**（{label}）。只有你能看到；公布答案前可以修改。",
    },
    "exercise_help.slack": {
        "en": "Trainers:\n• `/ethics exercise list`\n"
        "• `/ethics exercise weekly mon 09:00 fri 16:00 [Asia/Shanghai]` — a weekly "
        "rotation in this channel\n"
        "• `/ethics exercise once <exercise-id> 2026-12-07T09:00 2026-12-11T16:00 "
        "[Asia/Shanghai]`\n• `/ethics exercise cancel <schedule-id>`\n"
        "• `/ethics exercise results` — the last 12 weeks as a chart, to your messages",
        "zh": "培训师：\n• `/ethics exercise list`\n"
        "• `/ethics exercise weekly mon 09:00 fri 16:00 [Asia/Shanghai]` — 在本频道每周轮换\n"
        "• `/ethics exercise once <练习id> 2026-12-07T09:00 2026-12-11T16:00 "
        "[Asia/Shanghai]`\n• `/ethics exercise cancel <安排id>`\n"
        "• `/ethics exercise results` — 近 12 周结果图表，发到你的私信",
    },
    "exercise_help.teams": {
        "en": "Trainers, @mention EthicsBot in the channel:\n• `exercise list`\n"
        "• `exercise weekly mon 09:00 fri 16:00 [Asia/Shanghai]` — a weekly rotation in this "
        "channel\n"
        "• `exercise once <exercise-id> 2026-12-07T09:00 2026-12-11T16:00 [Asia/Shanghai]`\n"
        "• `exercise cancel <schedule-id>`",
        "zh": "培训师请在频道中 @道德助手：\n• `exercise list`\n"
        "• `exercise weekly mon 09:00 fri 16:00 [Asia/Shanghai]` — 在本频道每周轮换\n"
        "• `exercise once <练习id> 2026-12-07T09:00 2026-12-11T16:00 [Asia/Shanghai]`\n"
        "• `exercise cancel <安排id>`",
    },
    "exercise_list_line": {
        "en": "- `{id}` {where} · {what} · {post} → {reveal} ({tz})",
        "zh": "- `{id}` {where} · {what} · {post} → {reveal}（{tz}）",
    },
    "exercise_weekly_rotation": {"en": "weekly rotation", "zh": "每周轮换"},
    "exercise_list_empty": {
        "en": "No exercise schedules on this platform.",
        "zh": "本平台没有练习安排。",
    },
    "exercise_weekly_scheduled": {
        "en": "Weekly rotation `{id}` scheduled here: {post} → {reveal} ({tz}).",
        "zh": "已在此安排每周轮换 `{id}`：{post} → {reveal}（{tz}）。",
    },
    "exercise_once_scheduled": {
        "en": "Exercise {exercise} `{id}` scheduled here: {post} → {reveal} ({tz}).",
        "zh": "已在此安排练习 {exercise} `{id}`：{post} → {reveal}（{tz}）。",
    },
    "exercise_cancelled": {
        "en": "Schedule `{id}` cancelled.",
        "zh": "安排 `{id}` 已取消。",
    },
    "exercise_this_channel": {"en": "this channel", "zh": "本频道"},
    "exercise_results_coming": {
        "en": "Drawing the exercise results of the last 12 weeks: they arrive in your direct "
        "messages with EthicsBot in a moment (a chart and the same numbers as CSV).",
        "zh": "正在绘制近 12 周的练习结果，稍后发送到你与道德助手的私信中"
        "（图表及相同数据的 CSV）。",
    },
    "exercise_results_none": {
        "en": "No exercise was posted in the last 12 weeks, so there is nothing to chart yet.",
        "zh": "近 12 周没有发布过练习，暂无可绘制的结果。",
    },
    "exercise_results_caption": {
        "en": "**{title}** ({period}). Participation per exercise and the share choosing the "
        "recommended answer; groups under 5 are shown as “fewer than 5”.",
        "zh": "**{title}**（{period}）。每次练习的参与人数及选择推荐答案的比例；"
        "不足 5 人的组显示为“少于 5”。",
    },
    "busy": {
        "en": "EthicsBot is very busy right now — please try again in a minute.",
        "zh": "道德助手当前繁忙，请稍后再试。",
    },
    # the database is away, locked or full (bot/storage/errors.py): plain text, no markup,
    # as Slack shows it under a modal's input too
    "db_unavailable": {
        "en": "Could not save this just now: our database is not answering. Nothing you "
        "entered was lost. Please try again in a minute.",
        "zh": "暂时无法保存：数据库目前没有响应。您输入的内容没有丢失，请一分钟后再试。",
    },
    "error": {
        "en": "Sorry — something went wrong on our side and nothing was lost. Try again, or "
        "contact compliance directly if it is urgent.",
        "zh": "抱歉，系统出现问题，但没有丢失任何内容。请重试；如情况紧急，请直接联系合规部门。",
    },
    # -- teams desk (speaking up, case desk, exercises in Teams) ------------------------------
    "teams_exercise_where": {
        "en": "Exercises are scheduled in the channel where they should appear. Add EthicsBot "
        "to that team (in Teams: the team's **…** menu → **Manage team** → **Apps** → "
        "**Get more apps**, find EthicsBot, **Add to a team**), then in the channel type "
        "**@EthicsBot exercise weekly mon 09:00 fri 16:00 Asia/Shanghai**.",
        "zh": "练习要在它出现的频道中安排。请先把道德助手添加到该团队"
        "（在 Teams 中：团队的 **…** 菜单 → **管理团队** → **应用** → **获取更多应用**，"
        "找到道德助手，**添加到团队**），然后在该频道输入 "
        "**@道德助手 exercise weekly mon 09:00 fri 16:00 Asia/Shanghai**。",
    },
    "teams_not_in_channel": {
        "en": "EthicsBot was never added to that Teams channel, so it cannot post there. Add "
        "EthicsBot to the team (the team's **…** menu → **Manage team** → **Apps**), then "
        "@mention EthicsBot once in that channel; the waiting posts go out after that.",
        "zh": "道德助手从未被添加到该 Teams 频道，因此无法在那里发帖。请把道德助手添加到该团队"
        "（团队的 **…** 菜单 → **管理团队** → **应用**），然后在该频道 @道德助手 一次；"
        "等待中的帖子随后会发出。",
    },
    # -- end of teams desk -------------------------------------------------------------------
    # -- free-text search ("describe it in your own words") --------------------------------
    "search_intro": {
        "en": "Guides that fit what you described:",
        "zh": "与你描述的情况最相关的指引：",
    },
    "search_empty": {
        "en": "Tell me in a few words what happened, for example: "
        "“a customer keeps depositing cash just under the limit”.",
        "zh": "请用几句话说说发生了什么，例如：“客户每次存现都卡在限额以下”。",
    },
    "search_none": {
        "en": "No guide matched those words. The general questions below will find "
        "what is at stake, or talk to compliance.",
        "zh": "没有找到与这些词相符的指引。可以从下面的通用问题开始梳理，或直接联系合规部门。",
    },
    "search_cut": {
        "en": "That was long: only the first 2,000 characters were read.",
        "zh": "内容较长，只读取了前 2000 个字符。",
    },
    "search_way_out": {
        "en": "Not what you meant? Start with the general questions, or talk to compliance.",
        "zh": "不是你想找的？可以从通用问题开始，或直接联系合规部门。",
    },
    "search_private": {
        "en": "What you typed is not saved.",
        "zh": "你输入的内容不会被保存。",
    },
    "search_submit": {"en": "Search", "zh": "搜索"},
    "talk_compliance": {"en": "Talk to compliance", "zh": "联系合规部门"},
    "all_guides": {"en": "All guides", "zh": "全部指引"},
    "describe_label": {"en": "Describe your situation", "zh": "描述你遇到的情况"},
    "describe_hint": {
        "en": "In your own words, then press Enter or Search. What you type is not saved.",
        "zh": "用自己的话描述，然后按回车或“搜索”。你输入的内容不会被保存。",
    },
    # -- end of free-text search ------------------------------------------------------------
    # teams -----------------------------------------------------------------------------------
    "teams_welcome": {
        "en": "Hello, I am **EthicsBot**. I walk you, privately, through the bank's four-step "
        "ethical decision method: identify the issue, gather the facts, evaluate the options, "
        "decide and reflect. This chat is between you and me. I am **not** a hotline and "
        "**not** legal advice; for anything urgent, call your compliance officer.",
        "zh": "你好，我是**道德助手**。我会私下引导你按照银行的伦理决策四步法思考问题：识别问题、"
        "收集信息、评估选择、做出决策并反思。这个对话只在你和我之间。我**不是**举报热线，"
        "也**不是**法律意见；如情况紧急，请直接联系合规官。",
    },
    "teams_answer_needed": {
        "en": "Please type an answer before continuing.",
        "zh": "请先输入回答再继续。",
    },
    "teams_not_here": {
        "en": "Consultations happen in our personal chat, so they stay private. "
        "Open a chat with EthicsBot and type **ethics** there.",
        "zh": "咨询在与道德助手的私聊中进行，以保证私密。请打开与道德助手的对话并输入 **ethics**。",
    },
    "teams_done": {
        "en": "Done. Type **ethics** for another consultation.",
        "zh": "已完成。输入 **ethics** 开始新的咨询。",
    },
    "teams_unknown_action": {
        "en": "That button is no longer valid; nothing was changed. Type **ethics** to start "
        "again.",
        "zh": "该按钮已失效，未作任何更改。输入 **ethics** 重新开始。",
    },
    # -- end of teams ----------------------------------------------------------------------
    # reflection ------------------------------------------------------------------------------
    "reflect_ask": {
        "en": "{days} days ago you thought through **{title}** with EthicsBot and chose: "
        "_{headline}_. How did it turn out? Two quick questions, private to you.",
        "zh": "{days} 天前，你用道德助手梳理了“{title}”，结论是：_{headline}_。"
        "后来结果如何？两个简短问题，只有你自己能看到。",
    },
    "reflect_answer": {"en": "Answer", "zh": "回答"},
    "reflect_stop": {"en": "Don't ask me again", "zh": "不再询问我"},
    "reflect_title": {"en": "How did it turn out?", "zh": "结果如何？"},
    "reflect_turned_out": {"en": "How did it turn out?", "zh": "事情的结果如何？"},
    "reflect_better": {"en": "Better than expected", "zh": "比预期好"},
    "reflect_as_expected": {"en": "As expected", "zh": "和预期一样"},
    "reflect_worse": {"en": "Worse than expected", "zh": "比预期差"},
    "reflect_same": {
        "en": "Would you decide the same again?",
        "zh": "再来一次，你还会这样决定吗？",
    },
    "reflect_yes": {"en": "Yes", "zh": "会"},
    "reflect_no": {"en": "No", "zh": "不会"},
    "reflect_learned": {
        "en": "One thing you learned (optional)",
        "zh": "你学到的一点（可选）",
    },
    "reflect_learned_hint": {
        "en": "One line. Trainers only ever see it among at least five answers, never with "
        "your name.",
        "zh": "一句话即可。培训人员只会在至少五份回答中看到它，且不会看到你的名字。",
    },
    "reflect_thanks": {
        "en": "Thank you. Looking back is how the method's fourth step ends.",
        "zh": "谢谢。回顾反思，正是方法第四步的最后一环。",
    },
    "reflect_worse_offer": {
        "en": "It turned out worse. If something is wrong now, you can tell compliance at once: "
        "named, confidential or anonymous.",
        "zh": "结果比预期差。如果现在有问题，你可以立即告知合规部门：实名、保密或匿名均可。",
    },
    "reflect_report": {"en": "Report to compliance", "zh": "报告合规部门"},
    "reflect_pick": {"en": "Please choose one.", "zh": "请选择一项。"},
    "reflect_opted_out": {
        "en": "Done: EthicsBot will not ask you how decisions turned out again.",
        "zh": "好的：道德助手不会再询问你决定的后续结果。",
    },
    "reflect_home": {
        "en": "**Follow-ups.** About two weeks after a consultation, EthicsBot asks privately "
        "how it turned out. You can turn this off for good.",
        "zh": "**后续回访。** 咨询结束约两周后，道德助手会私下询问你结果如何。"
        "你可以永久关闭此功能。",
    },
    "reflect_gone": {
        "en": "This follow-up is no longer available (the consultation was deleted).",
        "zh": "此回访已失效（相关咨询已删除）。",
    },
    # teamsrep: the monthly report, the reveal chart and the follow-up in Teams ------------
    "monthly_report.teams": {
        "en": "**Compliance report for {month}**: cases by topic and severity, days to "
        "acknowledge and to close against the legal clocks, and follow-up rates. The same "
        "numbers as the CSV of `ethicsbot report monthly` are in the table below.",
        "zh": "**{month} 合规月报**：按主题和严重程度统计的案件、确认和结案用时与法定时限的对比，"
        "以及跟进率。与 `ethicsbot report monthly` 导出的 CSV 相同的数据见下表。",
    },
    "report_no_chart": {
        "en": "The chart did not fit into a Teams card; `ethicsbot report monthly --format png` "
        "draws it.",
        "zh": "图表超出 Teams 卡片的大小限制；可用 `ethicsbot report monthly --format png` 生成。",
    },
    "report_repeat": {
        "en": "An earlier attempt to post this report was interrupted; if it did arrive, this "
        "is the same report again.",
        "zh": "之前一次发布此报告的尝试被中断；如果它已送达，这是同一份报告。",
    },
    "reflect_ask.teams": {
        "en": "{days} days ago you thought through **{title}** with EthicsBot and chose: "
        "_{headline}_. How did it turn out? Two quick questions, private to you: only you "
        "see this chat.",
        "zh": "{days} 天前，你用道德助手梳理了“{title}”，结论是：_{headline}_。"
        "后来结果如何？两个简短问题，只在你与道德助手的私聊中。",
    },
    "reflect_not_yours": {
        "en": "This follow-up belongs to someone else's consultation; nothing was recorded.",
        "zh": "此回访属于他人的咨询，未记录任何内容。",
    },
    "reflect_stop_welcome": {
        "en": "About two weeks after a consultation, EthicsBot asks privately how it turned "
        "out. You can turn this off for good.",
        "zh": "咨询结束约两周后，道德助手会私下询问你结果如何。你可以永久关闭此功能。",
    },
    # -- end of teamsrep ----------------------------------------------------------------------
    # -- end of reflection --------------------------------------------------------------------
    "teams_train_sent_personal": {
        "en": "The exercise results are sent to your personal chat with EthicsBot.",
        "zh": "练习结果已发送到你与道德助手的个人聊天中。",
    },
    "teams_train_no_personal": {
        "en": "Open a personal chat with EthicsBot and type `exercise results` there: the "
        "results go to your personal chat only, never to a channel.",
        "zh": "请打开与道德助手的个人聊天并在其中输入 `exercise results`：结果只发送到个人聊天，"
        "不会发到频道。",
    },
    # App Home while the database is not answering (everyone; officers get the queue variant)
    "home_unavailable": {
        "en": "EthicsBot cannot load your consultations right now: our database is not "
        "answering. Nothing was lost. Open this tab again in a minute.",
        "zh": "道德助手暂时无法加载您的咨询：数据库目前没有响应。没有任何内容丢失。"
        "请一分钟后重新打开此页面。",
    },
    "home_unavailable_queue": {
        "en": "EthicsBot cannot load the compliance queue right now: our database is not "
        "answering. No case was lost. Open this tab again in a minute.",
        "zh": "道德助手暂时无法加载合规队列：数据库目前没有响应。没有任何案件丢失。"
        "请一分钟后重新打开此页面。",
    },
}


SLOTS: Final = ("reach_me", "status_cmd", "privacy_note")


def msg(key: str, lang: str, platform: str | None = None, **kwargs: str) -> str:
    """The text of `key` in `lang` (zh, else en), neutral markup, for `platform`.

    `key.<platform>` wins over `key`; a slot in the text is filled from the platform's
    variant of that slot, so a Teams user is never told to type a Slack command.
    """
    lang = "zh" if lang == "zh" else "en"
    entry = MESSAGES.get(f"{key}.{platform}") if platform else None
    text = (entry or MESSAGES[key])[lang]
    for slot in SLOTS:
        if "{" + slot + "}" in text and slot not in kwargs:
            if platform is None:
                raise KeyError(f"message {key!r} needs a platform for {{{slot}}}")
            kwargs[slot] = MESSAGES[f"{slot}.{platform}"][lang]
    return text.format(**kwargs) if kwargs else text
