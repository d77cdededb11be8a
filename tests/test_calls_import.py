"""Importing calls (seed 000): every format, normalised roles, idempotent re-imports, call ids
unique per project, and all-or-nothing files with a report naming the bad rows."""

import json

import pytest

from tests.conftest import ctx_of
from tests.test_cli import run
from workbench import errors, home
from workbench.calls import imports as calls
from workbench.errors import NotAllowed, NotFound

PER_CALL_CSV = (
    "call_id,transcript,timestamp,metadata\n"
    'A-1,"Agent: Thanks for calling.\nCustomer: My router keeps dropping.",2026-11-02T10:15:00,'
    '"{""channel"": ""phone""}"\n'
    'A-2,"Rep: Hello!\nCaller: I want a refund.",2026-11-03T09:00:00,\n'
)
PER_UTTERANCE_CSV = (
    "call_id,role,content,index,start_seconds,end_seconds\n"
    "B-1,agent,Good morning.,0,0,2.5\nB-1,Customer,My bill is wrong.,1,2.5,6\n"
    "B-1,Speaker 2,Hold on.,2,6,7\n"
)
TEXT = (
    "[00:00:01] Agent: Welcome to Northwind.\n[00:00:04] Customer: I lost my phone.\n"
    "it was stolen yesterday\n"
)
VTT = (
    "WEBVTT\n\n1\n00:00:00.000 --> 00:00:03.000\n<v Agent>How can I help?</v>\n\n"
    "2\n00:00:03.000 --> 00:00:07.500\n<v Customer>My parcel is late.</v>\n"
)


@pytest.fixture
def wb(demo_copy):
    return home.Workbench(demo_copy)


def load(wb, username, name, data, project="Customer care line", **options):
    return calls.import_calls(ctx_of(wb.store, username), wb, name, data, project, **options)


def turns(wb, external_id):
    with wb.store.connect() as con:
        return con.execute(
            "SELECT u.role, u.content, u.utterance_index, u.start_seconds, u.end_seconds"
            " FROM utterances u JOIN calls c ON c.id = u.call_id WHERE c.external_id = ?"
            " ORDER BY u.utterance_index",
            [external_id],
        ).fetchall()


def test_each_format_becomes_calls_with_normalised_roles(wb):
    assert load(wb, "anna", "calls.csv", PER_CALL_CSV.encode())["created"] == 2
    assert [t[:2] for t in turns(wb, "A-2")] == [("agent", "Hello!"), ("customer", "I want a refund.")]
    assert load(wb, "anna", "turns.csv", PER_UTTERANCE_CSV.encode())["utterances"] == 3
    assert turns(wb, "B-1") == [
        ("agent", "Good morning.", 0, 0.0, 2.5),
        ("customer", "My bill is wrong.", 1, 2.5, 6.0),
        ("unknown", "Hold on.", 2, 6.0, 7.0),
    ]
    rows = [
        {"call_id": "J-1", "transcript": "Agent: Hi.\nCustomer: Bye.", "timestamp": "2026-11-04T08:00:00Z"}
    ]
    load(wb, "anna", "calls.json", json.dumps(rows).encode())
    load(
        wb,
        "anna",
        "calls.jsonl",
        b'{"call_id": "L-1", "role": "system", "content": "Recorded line.", "index": 0}\n',
    )
    assert turns(wb, "J-1")[1][:2] == ("customer", "Bye.") and turns(wb, "L-1")[0][0] == "system"
    load(wb, "anna", "lost-phone.txt", TEXT.encode())
    assert turns(wb, "lost-phone") == [
        ("agent", "Welcome to Northwind.", 0, 1.0, 4.0),
        ("customer", "I lost my phone. it was stolen yesterday", 1, 4.0, None),
    ]
    load(wb, "anna", "late.vtt", VTT.encode())
    assert turns(wb, "late")[1] == ("customer", "My parcel is late.", 1, 3.0, 7.5)
    with wb.store.connect() as con:
        meta = con.execute(
            "SELECT metadata->>'channel', started_at FROM calls WHERE external_id = 'A-1'"
        ).fetchone()
    assert meta[0] == "phone" and meta[1].isoformat() == "2026-11-02T10:15:00"


def test_reimporting_updates_instead_of_duplicating(wb):
    load(wb, "anna", "calls.csv", PER_CALL_CSV.encode())
    again = load(
        wb, "anna", "calls.csv", PER_CALL_CSV.replace("I want a refund.", "I want my money back.").encode()
    )
    assert (again["created"], again["updated"]) == (0, 2)
    assert [t[1] for t in turns(wb, "A-2")] == ["Hello!", "I want my money back."]
    with wb.store.connect() as con:
        assert con.execute("SELECT count(*) FROM calls WHERE external_id = 'A-2'").fetchone()[0] == 1


def test_call_ids_are_unique_per_project_so_tenants_never_collide(wb):
    load(wb, "anna", "calls.csv", PER_CALL_CSV.encode())
    load(wb, "amir", "calls.csv", PER_CALL_CSV.encode(), project="Support desk")
    with wb.store.connect() as con:
        orgs = con.execute(
            "SELECT DISTINCT p.org_id FROM calls c JOIN projects p ON p.id = c.project_id"
            " WHERE c.external_id = 'A-1'"
        ).fetchall()
    assert len(orgs) == 2
    with pytest.raises(NotFound):  # another organisation's project does not exist for you
        load(wb, "anna", "calls.csv", PER_CALL_CSV.encode(), project="Support desk")
    with pytest.raises(NotAllowed):
        load(wb, "vera", "calls.csv", PER_CALL_CSV.encode())  # a viewer imports nothing


@pytest.mark.parametrize(
    "name, data, problem",
    [
        ("calls.csv", b"call_id,transcript\n,Agent: hi\n", "row 1: missing call_id"),
        ("turns.csv", b"call_id,role,content,index\nX,pilot,Hello,0\n", "row 1: unknown role 'pilot'"),
        ("calls.csv", b"call_id,transcript\nX,\n", "row 1: call X: empty transcript"),
        (
            "turns.csv",
            b"call_id,role,content,index\nX,agent,Hi,0\nX,customer,Yo,0\n",
            "index 0 appears twice",
        ),
        ("calls.json", b"{not json", "not valid JSON"),
        ("notes.txt", b"no speakers here at all", "no speaker turns"),
        ("calls.xlsx", b"PK\x03\x04", "unsupported type .xlsx"),
        ("calls.csv", b"", "the file is empty"),
    ],
)
def test_a_bad_file_is_reported_by_row_and_writes_nothing(wb, name, data, problem):
    with wb.store.connect() as con:
        before = con.execute(
            "SELECT (SELECT count(*) FROM calls), (SELECT count(*) FROM utterances)"
        ).fetchone()
    with pytest.raises(errors.ImportReport, match="nothing imported") as report:
        load(wb, "anna", name, PER_CALL_CSV.encode() if data is None else data)
    assert problem in str(report.value)
    with wb.store.connect() as con:
        after = con.execute(
            "SELECT (SELECT count(*) FROM calls), (SELECT count(*) FROM utterances)"
        ).fetchone()
    assert after == before


def test_encodings_and_size(wb):
    bom = '\ufeffcall_id,transcript\nE-1,"Agent: Grüß Gott.\nCustomer: Danke."\n'.encode()
    load(wb, "anna", "bom.csv", bom)
    load(
        wb,
        "anna",
        "latin.txt",
        "Agent: Señor, ¿en qué puedo ayudarle?\nCustomer: Gracias.".encode("latin-1"),
    )
    assert turns(wb, "E-1")[0][1] == "Grüß Gott." and turns(wb, "latin")[0][1].startswith("Señor")
    with pytest.raises(errors.ImportReport, match="the limit is 1 MB"):
        load(wb, "anna", "big.csv", b"x" * (2 * 1024 * 1024), max_mb=1)


def test_cli_import_prints_counts_or_the_report(cli_env, tmp_path):
    good, bad = tmp_path / "calls.csv", tmp_path / "bad.csv"
    good.write_text(PER_CALL_CSV)
    bad.write_text("call_id,role,content,index\n,agent,Hi,0\nX,pilot,Hello,1\n")
    result = run(
        cli_env, "calls", "import", str(good), "--project", "Customer care line", "--as", "anna", "--json"
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["created"] == 2
    failed = run(
        cli_env, "calls", "import", str(bad), "--project", "Customer care line", "--as", "anna", "--json"
    )
    assert failed.returncode == 1
    assert [p["row"] for p in json.loads(failed.stdout)["problems"]] == [1, 2]
    listed = run(cli_env, "calls", "list", "--as", "anna", "--project", "Customer care line")
    assert "A-1" in listed.stdout and "A-2" in listed.stdout


HAND_CHECKED = (
    "[00:00:00] Agent: Thanks for calling Northwind, how can I help?\n"
    "[00:00:05] Customer: My internet is terrible and keeps dropping, I am really annoyed.\n"
    "[00:00:12] Agent: I am sorry. I reset your line now.\n"
    "[00:00:20] Customer: Great, thanks, that fixed it!\n"
)


def test_call_analytics_are_computed_at_import_on_a_hand_checked_call(wb):
    from workbench.calls import metrics as call_metrics

    load(wb, "anna", "checked.txt", HAND_CHECKED.encode())
    with wb.store.connect() as con:
        row = con.execute(
            "SELECT turns, agent_words, customer_words, talk_ratio, duration_seconds, sentiment,"
            " resolved FROM calls WHERE external_id = 'checked'"
        ).fetchone()
        scores = [
            r[0]
            for r in con.execute(
                "SELECT u.sentiment FROM utterances u JOIN calls c ON c.id = u.call_id"
                " WHERE c.external_id = 'checked' ORDER BY u.utterance_index"
            ).fetchall()
        ]
    # 8 + 8 agent words, 11 + 5 customer words; the last turn starts at 20 s and has no end
    assert row[:5] == (4, 16, 16, 0.5, 20.0)
    assert scores[1] < -0.3 and scores[3] > 0.5  # annoyed, then pleased
    assert row[5] == pytest.approx((scores[1] + scores[3]) / 2, abs=1e-4) and row[6] is True
    assert call_metrics.resolution(["I will escalate this and call you back.", "Thanks."]) is False
    assert call_metrics.resolution(["Okay.", "Bye."]) is None


def test_demo_calls_carry_their_analytics(demo_store):
    with demo_store.connect() as con:
        missing, total = con.execute(
            "SELECT count(*) FILTER (WHERE turns IS NULL OR talk_ratio IS NULL), count(*) FROM calls"
        ).fetchone()
    assert total > 300 and missing == 0


def test_a_200_mb_file_is_refused_before_it_is_read(wb):
    with pytest.raises(errors.ImportReport, match="the file is 200 MB; the limit is 50 MB"):
        load(wb, "anna", "huge.csv", b"x" * (200 * 1024 * 1024))
    with wb.store.connect() as con:
        assert con.execute("SELECT count(*) FROM calls WHERE external_id LIKE 'x%'").fetchone()[0] == 0


def count_calls(wb) -> tuple[int, int]:
    with wb.store.connect() as con:
        return con.execute(
            "SELECT (SELECT count(*) FROM calls), (SELECT count(*) FROM utterances)"
        ).fetchone()


@pytest.mark.parametrize(
    "cues, says",
    [
        ("1\n00:00:03.000 --> 00:00:99.000\n<v Agent>Hi</v>\n", "line 6: 00:00:99.000: minutes and seconds"),
        (
            "1\n00:00:03.000 --> 00:00:09.000\n<v Agent>Hi</v>\n\n"
            "2\n00:61:00.000 --> 01:02:00.000\n<v Customer>Yo</v>\n",
            "line 10: 00:61:00.000: minutes and seconds",
        ),
        (
            "1\n00:00:05.000 --> 00:00:01.000\n<v Agent>Hi</v>\n",
            "line 6: the cue ends at 00:00:01.000, before it starts (00:00:05.000)",
        ),
        ("99:00.000 --> 99:01.000\nAgent: Hi\n", "line 5: 99:00.000: minutes and seconds"),
    ],
)
def test_a_webvtt_cue_with_an_impossible_time_is_refused_with_its_line(wb, cues, says):
    before = count_calls(wb)
    with pytest.raises(errors.ImportReport, match="^bad.vtt: nothing imported") as report:
        load(wb, "anna", "bad.vtt", f"WEBVTT\n\nNOTE a comment\n\n{cues}".encode())
    assert says in str(report.value)
    assert count_calls(wb) == before


def test_impossible_times_in_text_and_utterance_rows_are_refused(wb):
    before = count_calls(wb)
    with pytest.raises(errors.ImportReport, match=r"line 2: '00:00:75' .*minutes and seconds"):
        load(wb, "anna", "t.txt", b"[00:00:01] Agent: Hi\n[00:00:75] Customer: Yo\n")
    with pytest.raises(errors.ImportReport, match=r"row 2: end 1.0 is before start 5.0"):
        load(wb, "anna", "u.csv",
             b"call_id,role,content,index,start,end\nX,agent,Hi,0,0,5\nX,customer,Yo,1,5,1\n")
    with pytest.raises(errors.ImportReport, match=r"row 1: .*'1:99'.* minutes and seconds"):
        load(wb, "anna", "u.csv", b"call_id,role,content,index,start\nX,agent,Hi,0,1:99\n")
    assert count_calls(wb) == before
    load(wb, "anna", "long.vtt", b"WEBVTT\n\n100:00:00.000 --> 100:00:02.500\n<v Agent>Still here.</v>\n")
    assert turns(wb, "long") == [("agent", "Still here.", 0, 360000.0, 360002.5)]


def utf16(text: str, codec: str) -> bytes:
    """Text as a UTF-16 file with its byte-order mark, as Excel and Notepad write it."""
    return {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}[codec] + text.encode(codec)


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_a_utf16_csv_is_read_like_utf8(wb, codec):
    load(wb, "anna", "u16.csv", utf16(PER_CALL_CSV.replace("A-", "U-"), codec))
    assert [t[:2] for t in turns(wb, "U-2")] == [("agent", "Hello!"), ("customer", "I want a refund.")]
    unicode_text = "call_id\ttranscript\r\nX-1\tAgent: Grüß Gott.\r\n"  # Excel's "Unicode text": tabs, CRLF
    load(wb, "anna", "excel.csv", utf16(unicode_text, codec))
    assert turns(wb, "X-1") == [("agent", "Grüß Gott.", 0, None, None)]
    load(wb, "anna", "u16.json", utf16(json.dumps([{"call_id": "J-9", "transcript": "Agent: Hé"}]), codec))
    assert turns(wb, "J-9")[0][1] == "Hé"
    load(wb, "anna", "no-bom.csv", "call_id,transcript\nN-1,Agent: Hallo.\n".encode(codec))  # no mark
    assert turns(wb, "N-1") == [("agent", "Hallo.", 0, None, None)]


def test_a_damaged_utf16_file_says_it_is_utf16(wb):
    before = count_calls(wb)
    with pytest.raises(errors.ImportReport, match="not valid UTF-16.*save it again as UTF-8"):
        load(wb, "anna", "broken.csv", utf16("call_id,transcript\nA,Agent: hi\n", "utf-16-le") + b"\x00")
    assert count_calls(wb) == before
