"""Questions the bot puts back to a sender, answered with the number of a choice (1, 2, …).

A handler asks with `ask(...)`; the answer comes back to the function registered for the
question's topic with `@answers(topic)`. Any other message drops the question and goes on as
normal, so a sender is never stuck in a question they did not mean to answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from handlers import texts, words
from handlers.commands import chinese_number
from handlers.router import Context, Message, Reply, normalize_text
from models.conversation import Question, ask_question, clear_state, pending_question

# Long enough to answer after a call or a walk to the field, short enough that a "1" sent
# the next day is not read as this answer.
QUESTION_TTL = timedelta(hours=1)
_ANSWER = re.compile(words.CHOICE_ANSWER)

Answerer = Callable[[Message, Context, Question, str], Reply]
_ANSWERERS: dict[str, Answerer] = {}


def answers(topic: str) -> Callable[[Answerer], Answerer]:
    """Register the decorated function as the one that takes answers to `topic`."""

    def register(function: Answerer) -> Answerer:
        _ANSWERERS[topic] = function
        return function

    return register


def ask(
    message: Message,
    ctx: Context,
    topic: str,
    choices: tuple[str, ...],
    prompt: str,
    context: dict[str, Any] | None = None,
) -> str:
    """Keep a question for the sender and return the line that asks it."""
    assert topic in _ANSWERERS, f"no handler takes answers to {topic!r}"
    question = Question(topic, choices, context or {})
    ask_question(ctx.session, message.channel, message.sender, question, ctx.now, QUESTION_TTL)
    return prompt


def chosen_number(text: str) -> int | None:
    """The number a reply picks ("1", "回复2", "二", in either width), else None."""
    match = _ANSWER.match(normalize_text(text))
    return chinese_number(match.group(1)) if match else None


def answer(message: Message, ctx: Context) -> Reply:
    """A number answering the question put to this sender; other text drops the question."""
    question = pending_question(ctx.session, message.channel, message.sender, ctx.now)
    if question is None or question.topic not in _ANSWERERS:
        return None
    number = chosen_number(message.content)
    if number is None:
        clear_state(ctx.session, message.channel, message.sender)
        return None
    value = question.choice(number)
    if value is None:
        return texts.QUESTION_PICK_ONE.format(count=len(question.choices))
    clear_state(ctx.session, message.channel, message.sender)
    return _ANSWERERS[question.topic](message, ctx, question, value)
