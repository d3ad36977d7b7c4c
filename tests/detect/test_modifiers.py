"""Every Sigma modifier, positive and negative, on both evaluation paths (SQL and Python)."""

from __future__ import annotations

import base64

from tests.detect.conftest import sysmon1

HEAD = """
title: t
id: 11111111-1111-1111-1111-111111111111
status: test
level: high
logsource: {category: process_creation, product: windows}
"""


def rule(detection: str) -> str:
    return HEAD + "detection:\n" + detection


def test_contains_is_case_insensitive(match):
    r = rule("  sel: {CommandLine|contains: 'MiMiKaTz'}\n  condition: sel")
    assert match(r, [sysmon1(CommandLine="run mimikatz.exe"), sysmon1(CommandLine="notepad")]) == [
        0
    ]


def test_startswith_and_endswith(match):
    r = rule(
        "  sel:\n    Image|endswith: '\\\\cmd.exe'\n    CommandLine|startswith: 'cmd /c'\n  condition: sel"
    )
    events = [
        sysmon1(Image="C:\\Windows\\System32\\CMD.EXE", CommandLine="CMD /C whoami"),
        sysmon1(Image="C:\\Windows\\System32\\cmd.exe.bak", CommandLine="cmd /c whoami"),
        sysmon1(Image="C:\\x\\cmd.exe", CommandLine="x cmd /c"),
    ]
    assert match(r, events) == [0]


def test_exact_match_is_not_substring(match):
    r = rule("  sel: {User: 'admin'}\n  condition: sel")
    assert match(r, [sysmon1(User="ADMIN"), sysmon1(User="administrator")]) == [0]


def test_all_needs_every_value(match):
    r = rule("  sel:\n    CommandLine|contains|all: ['-nop', '-enc']\n  condition: sel")
    assert match(
        r, [sysmon1(CommandLine="powershell -nop -enc AAA"), sysmon1(CommandLine="powershell -nop")]
    ) == [0]


def test_list_is_any_value(match):
    r = rule("  sel:\n    Image|endswith: ['\\\\a.exe', '\\\\b.exe']\n  condition: sel")
    assert match(r, [sysmon1(Image="c:\\b.exe"), sysmon1(Image="c:\\c.exe")]) == [0]


def test_wildcards_in_the_middle(match):
    r = rule("  sel: {CommandLine: 'net * user?x'}\n  condition: sel")
    assert match(
        r,
        [
            sysmon1(CommandLine="NET group user1x"),
            sysmon1(CommandLine="net user1x"),
            sysmon1(CommandLine="net a user12x"),
        ],
    ) == [0]


def test_sql_like_characters_are_literal(match):
    r = rule("  sel:\n    CommandLine|contains: '100%_done'\n  condition: sel")
    assert match(
        r,
        [
            sysmon1(CommandLine="at 100%_done now"),
            sysmon1(CommandLine="at 100xxdone"),
            sysmon1(CommandLine="at 100%xdone"),
        ],
    ) == [0]


def test_escaped_wildcard_is_literal(match):
    r = rule("  sel: {CommandLine: 'a\\*b'}\n  condition: sel")
    assert match(r, [sysmon1(CommandLine="a*b"), sysmon1(CommandLine="axxb")]) == [0]


def test_backslashes_match_literally(match):
    r = rule("  sel: {CommandLine|contains: '\\\\\\\\server\\\\share'}\n  condition: sel")
    assert match(
        r,
        [
            sysmon1(CommandLine="copy x \\\\server\\share\\y"),
            sysmon1(CommandLine="copy x server share"),
        ],
    ) == [0]


def test_re_is_case_sensitive_by_default(match):
    r = rule("  sel: {CommandLine|re: 'Invoke-[A-Z]+'}\n  condition: sel")
    assert match(r, [sysmon1(CommandLine="Invoke-MIMI"), sysmon1(CommandLine="invoke-mimi")]) == [0]


def test_re_i_flag(match):
    r = rule("  sel: {CommandLine|re|i: 'invoke-[a-z]+'}\n  condition: sel")
    assert match(r, [sysmon1(CommandLine="INVOKE-X"), sysmon1(CommandLine="invoke 1")]) == [0]


def test_re_m_flag_anchors_lines(match):
    r = rule("  sel: {CommandLine|re|m: '^second'}\n  condition: sel")
    assert match(
        r, [sysmon1(CommandLine="first\nsecond"), sysmon1(CommandLine="first second")]
    ) == [0]


def test_re_s_flag_dot_matches_newline(match):
    r = rule("  sel: {CommandLine|re|s: 'a.b'}\n  condition: sel")
    assert match(r, [sysmon1(CommandLine="a\nb"), sysmon1(CommandLine="ab")]) == [0]


def test_windash_matches_dash_variants(match):
    r = rule("  sel: {CommandLine|windash|contains: ' -enc '}\n  condition: sel")
    assert match(
        r,
        [
            sysmon1(CommandLine="ps /enc x"),
            sysmon1(CommandLine="ps \u2013enc x"),
            sysmon1(CommandLine="ps enc x"),
        ],
    ) == [0, 1]


def test_cidr(match):
    r = rule("  sel: {SourceIp|cidr: '10.1.0.0/16'}\n  condition: sel")
    assert match(
        r,
        [
            sysmon1(SourceIp="10.1.200.3"),
            sysmon1(SourceIp="10.2.0.1"),
            sysmon1(SourceIp="110.1.0.1"),
        ],
    ) == [0]


def test_cidr_not_on_octet_boundary(match):
    r = rule("  sel: {SourceIp|cidr: '192.168.4.0/22'}\n  condition: sel")
    assert match(r, [sysmon1(SourceIp="192.168.7.9"), sysmon1(SourceIp="192.168.8.1")]) == [0]


def test_base64(match):
    encoded = base64.b64encode(b"whoami /all").decode()
    r = rule("  sel: {CommandLine|base64: 'whoami /all'}\n  condition: sel")
    assert match(r, [sysmon1(CommandLine=encoded), sysmon1(CommandLine="whoami /all")]) == [0]


def test_base64offset_contains(match):
    encoded = base64.b64encode(b"xx IEX (New-Object Net.WebClient)").decode()
    r = rule("  sel: {CommandLine|base64offset|contains: 'IEX ('}\n  condition: sel")
    assert match(r, [sysmon1(CommandLine="-e " + encoded), sysmon1(CommandLine="IEX (")]) == [0]


def test_utf16le_base64(match):
    encoded = base64.b64encode("Get-Process".encode("utf-16-le")).decode()
    r = rule("  sel: {CommandLine|utf16le|base64offset|contains: 'Get-Process'}\n  condition: sel")
    assert match(
        r,
        [
            sysmon1(CommandLine="-enc " + encoded),
            sysmon1(CommandLine=base64.b64encode(b"Get-Process").decode()),
        ],
    ) == [0]


def test_wide_is_utf16le(match):
    encoded = base64.b64encode("calc".encode("utf-16-le")).decode()
    r = rule("  sel: {CommandLine|wide|base64: 'calc'}\n  condition: sel")
    assert match(r, [sysmon1(CommandLine=encoded), sysmon1(CommandLine="calc")]) == [0]


def test_exists(match):
    r = rule("  sel: {ParentUser|exists: true}\n  condition: sel")
    assert match(r, [sysmon1(ParentUser="x"), sysmon1(User="y")]) == [0]


def test_exists_false(match):
    r = rule("  sel: {ParentUser|exists: false}\n  condition: sel")
    assert match(r, [sysmon1(ParentUser="x"), sysmon1(User="y")]) == [1]


def test_fieldref(match):
    r = rule("  sel: {ParentImage|fieldref: Image}\n  condition: sel")
    assert match(
        r,
        [
            sysmon1(Image="C:\\A.exe", ParentImage="c:\\a.exe"),
            sysmon1(Image="c:\\a.exe", ParentImage="c:\\b.exe"),
        ],
    ) == [0]


def test_gt_lt(match):
    r = rule("  sel:\n    ProcessId|gt: 100\n    ProcessId|lte: 200\n  condition: sel")
    assert match(
        r,
        [
            sysmon1(ProcessId=150),
            sysmon1(ProcessId="200"),
            sysmon1(ProcessId=99),
            sysmon1(ProcessId="abc"),
            sysmon1(ProcessId=201),
        ],
    ) == [0, 1]


def test_gte_lt(match):
    r = rule("  sel:\n    ProcessId|gte: 10\n    ProcessId|lt: 11\n  condition: sel")
    assert match(r, [sysmon1(ProcessId=10), sysmon1(ProcessId=11), sysmon1(ProcessId=9)]) == [0]


def test_cased(match):
    r = rule("  sel: {CommandLine|cased|contains: 'AbC'}\n  condition: sel")
    assert match(r, [sysmon1(CommandLine="xAbCx"), sysmon1(CommandLine="xabcx")]) == [0]


def test_expand_uses_placeholder_values(match):
    r = rule("  sel: {User|expand: '%admins%'}\n  condition: sel")
    events = [sysmon1(User="CORP\\boss"), sysmon1(User="CORP\\intern")]
    assert match(r, events, placeholders={"admins": ["corp\\boss", "corp\\root"]}) == [0]


def test_keyword_search_over_all_fields(match):
    r = rule("  keywords: ['mimikatz']\n  condition: keywords")
    assert match(r, [sysmon1(ParentCommandLine="x MIMIKATZ y"), sysmon1(CommandLine="calc")]) == [0]


def test_not_over_missing_field_is_true(match):
    r = rule(
        "  sel: {Image|endswith: '.exe'}\n  filter: {ParentImage: 'x'}\n  condition: sel and not filter"
    )
    assert match(r, [sysmon1(Image="a.exe"), sysmon1(Image="b.exe", ParentImage="X")]) == [0]


def test_null_value(match):
    r = rule("  sel: {Image|endswith: '.exe', ParentImage: null}\n  condition: sel")
    assert match(r, [sysmon1(Image="a.exe"), sysmon1(Image="b.exe", ParentImage="p.exe")]) == [0]


def test_numbers_compare_as_strings(match):
    r = rule("  sel: {LogonType: 3}\n  condition: sel")
    assert match(r, [sysmon1(LogonType="3"), sysmon1(LogonType=3), sysmon1(LogonType=10)]) == [0, 1]


def test_field_names_ignore_case_and_spaces(match):
    r = rule("  sel: {ThreatName|endswith: 'EICAR'}\n  condition: sel")
    assert match(r, [sysmon1(**{"Threat Name": "x EICAR"}), sysmon1(**{"threatname": "no"})]) == [0]


def test_one_of_selection_pattern(match):
    r = rule(
        "  sel_a: {Image|endswith: '\\\\a.exe'}\n  sel_b: {Image|endswith: '\\\\b.exe'}\n"
        "  condition: 1 of sel_*"
    )
    assert match(r, [sysmon1(Image="c:\\b.exe"), sysmon1(Image="c:\\c.exe")]) == [0]


def test_process_creation_matches_security_4688_with_renamed_fields(match):
    r = rule("  sel: {Image|endswith: '\\\\whoami.exe'}\n  condition: sel")
    security = {
        "EventID": 4688,
        "Channel": "Security",
        "Provider_Name": "Microsoft-Windows-Security-Auditing",
        "NewProcessName": "C:\\Windows\\System32\\whoami.exe",
    }
    assert match(r, [security, sysmon1(Image="c:\\x\\notwhoami.exe")]) == [0]


def test_event_id_alone_does_not_match_another_channel(match):
    r = rule("  sel: {Image|endswith: '\\\\whoami.exe'}\n  condition: sel")
    other = {"EventID": 1, "Channel": "Application", "Image": "c:\\whoami.exe"}
    assert match(r, [other, sysmon1(Image="c:\\whoami.exe")]) == [1]


def test_duplicate_events_each_get_their_detection(match):
    r = rule("  sel: {Image|endswith: '\\\\whoami.exe'}\n  condition: sel")
    same = sysmon1(Image="c:\\whoami.exe", CommandLine="whoami")
    other = sysmon1(Image="c:\\calc.exe")
    assert match(r, [same, other, same, same, other]) == [0, 2, 3]


def test_product_wide_keyword_rule_searches_every_log(match):
    r = HEAD.replace(
        "logsource: {category: process_creation, product: windows}", "logsource: {product: windows}"
    ) + (
        "detection:\n  keywords: ['sekurlsa::', '\\\\mimilib.dll']\n  filter: {EventID: 15}\n"
        "  condition: keywords and not filter"
    )
    security = {
        "EventID": 4688,
        "Channel": "Security",
        "CommandLine": "m.exe SEKURLSA::logonpasswords",
    }
    app = {"EventID": 1000, "Channel": "Application", "Data": "loaded C:\\x\\MIMILIB.dll"}
    stream = sysmon1(EventID=15, TargetFilename="C:\\rules\\sekurlsa::.yml")
    assert match(r, [security, app, stream, sysmon1(CommandLine="calc")]) == [0, 1]


def test_re_dollar_is_the_end_of_the_text_on_every_path(match):
    # RE2 (the SQL path) reads '$' as the end of the text; Python's '$' would also match
    # before a final newline unless translated.
    r = rule("  sel: {CommandLine|re: 'whoami$'}\n  condition: sel")
    assert match(
        r,
        [
            sysmon1(CommandLine="x whoami"),
            sysmon1(CommandLine="x whoami\n"),
            sysmon1(CommandLine="whoami /all"),
        ],
    ) == [0]
