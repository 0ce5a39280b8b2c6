"""`grievance-bot parse`: JSON lines in, the eval contract out, bad lines answered not dropped."""

from __future__ import annotations

import json

import pytest

from tests.conftest import SHARED, needs_shared

EVAL = SHARED / "eval" / "grievances-dev.jsonl"
FIELDS = ("is_grievance", "category", "village", "group", "urgent", "households")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_parse_reads_stdin_and_writes_the_contract(run_cli) -> None:  # type: ignore[no-untyped-def]
    lines = [
        {
            "id": "x1",
            "text": "张家村3组停水了，十几户没水吃",
            "reporter_village": "张家村",
            "reporter_group": 2,
        },
        {"text": "谢谢书记", "reporter_village": "九湖村", "reporter_group": 1},
    ]
    result = run_cli("parse", input="\n".join(json.dumps(x, ensure_ascii=False) for x in lines))
    assert result.exit_code == 0, result.output
    first, second = (json.loads(line) for line in result.output.splitlines())
    assert first["id"] == "x1" and set(FIELDS) <= first.keys()
    assert first["category"] == "water" and first["village"] == "张家村" and first["group"] == 3
    assert first["households"] == 10
    assert second["is_grievance"] is False and second["category"] is None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_parse_a_file_keeps_every_line_and_flags_bad_ones(run_cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"text": "路灯坏了", "reporter_village": "金牛村", "reporter_group": 4}\n'
        "not json\n"
        '{"text": 5}\n',
        encoding="utf-8",
    )
    result = run_cli("parse", str(source))
    assert result.exit_code == 1
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 3
    assert rows[0]["category"] == "road" and rows[0]["group"] == 4
    assert "error" in rows[1] and "error" in rows[2]


@needs_shared("eval/grievances-dev.jsonl")
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_parse_on_the_eval_set_matches_the_labels(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("parse", str(EVAL))
    gold = [
        json.loads(line) for line in EVAL.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    got = [json.loads(line) for line in result.stdout.splitlines()]
    assert [g["id"] for g in got] == [g["id"] for g in gold]
    for field in FIELDS:
        right = sum(g[field] == p[field] for g, p in zip(gold, got, strict=True))
        assert right / len(gold) >= 0.9, field


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_parse_explain_says_how_sure_and_what_it_would_ask(run_cli) -> None:  # type: ignore[no-untyped-def]
    lines = [
        {
            "text": "张家村3组停水了，十几户没水吃",
            "reporter_village": "张家村",
            "reporter_group": 2,
        },
        {"text": "学校门口的路坑坑洼洼", "reporter_village": "张家村", "reporter_group": 2},
    ]
    stdin = "\n".join(json.dumps(x, ensure_ascii=False) for x in lines)
    plain = run_cli("parse", input=stdin)
    assert "confidence" not in plain.output  # the eval contract stays as it is
    result = run_cli("parse", "--explain", input=stdin)
    assert result.exit_code == 0, result.output
    sure, unsure = (json.loads(line) for line in result.output.splitlines())
    assert sure["unsure"] == [] and sure["asks"] is None
    assert sure["confidence"]["category"] >= 0.65
    # Two topics in one line: the bot asks which, offering both, best first.
    assert unsure["asks"] == "category" and "category" in unsure["unsure"]
    assert unsure["choices"]["category"][:2] == ["education", "road"]
    assert unsure["confidence"]["category"] < 0.65
