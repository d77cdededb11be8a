"""`workbench ask` and `workbench conversations` as a user runs them: the same answer, sources,
confidence and grounding as the chat page, and clear one-line errors."""

import json

from tests.test_cli import run


def test_ask_json_gives_the_answer_sources_confidence_and_grounding(cli_env):
    result = run(
        cli_env, "ask", "Is a phone that arrives damaged replaced free of charge?", "--as", "anna", "--json"
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert "replaced free of charge" in answer["content"] and "[" in answer["content"]
    assert answer["sources"][0]["title"] and answer["sources"][0]["cited_text"]
    assert 0.3 <= answer["confidence"] <= 1 and answer["grounding"]["score"] == 1.0
    assert [log["agent"] for log in answer["agent_logs"]] == [
        "ResearchAgent",
        "AnalyzerAgent",
        "GroundingAgent",
        "ExplainabilityAgent",
    ]

    conversation = answer["conversation_uuid"]
    follow = run(
        cli_env, "ask", "How long is the return window?", "--as", "anna", "--conversation", conversation
    )
    assert follow.returncode == 0 and "confidence" in follow.stdout  # plain text: streamed answer, then facts
    listed = json.loads(run(cli_env, "conversations", "list", "--as", "anna", "--json").stdout)
    assert next(c for c in listed if c["uuid"] == conversation)["messages"] == 4
    exported = run(cli_env, "conversations", "export", conversation, "--as", "anna")
    assert exported.stdout.startswith("# Is a phone that arrives damaged")
    other = run(cli_env, "conversations", "export", conversation, "--as", "arthur")
    assert other.returncode == 1 and other.stderr.startswith("error: No conversation")
    deleted = run(cli_env, "conversations", "delete", conversation, "--as", "anna", "--json")
    assert json.loads(deleted.stdout)["messages"] == 4


def test_ask_refuses_bad_input_with_one_line(cli_env):
    empty = run(cli_env, "ask", "  ", "--as", "anna")
    assert empty.returncode == 1 and empty.stderr.strip() == "error: Type a question first."
    broken = run(cli_env, "ask", "refunds?", "--as", "anna", "--docs", "not-a-uuid")
    assert broken.returncode == 1 and "Not a document id" in broken.stderr
