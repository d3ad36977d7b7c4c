"""Correlation at scale: a case store with N events (default 1M) and 10k detections, built
directly in DuckDB (logons, process starts, connections, DNS over 200 hosts), then correlated.
Prints load time, correlation time and peak memory (RSS).

    python bench/correlate.py [--events 1000000] [--detections 10000]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from spearhunt.correlate.config import CorrelateOptions, load_allowlist
from spearhunt.correlate.run import correlate_store
from spearhunt.store.case import CaseStore


def build(path: Path, events: int, detections: int) -> None:
    store = CaseStore(path, "bench")
    store.finish(0, 0)  # a finished run: the rows below are written outside it
    store.close()
    con = duckdb.connect(str(path))
    con.execute(f"""
        INSERT INTO events BY NAME
        SELECT i AS eid, TIMESTAMP '2026-03-02' + to_seconds(i * 1.2) AS ts,
          'host-' || (i % 200) || '.corp.example' AS computer,
          CASE i % 4 WHEN 0 THEN 'Security' ELSE 'Microsoft-Windows-Sysmon/Operational' END AS channel,
          'bench' AS provider,
          CASE i % 4 WHEN 0 THEN 4624 WHEN 1 THEN 3 WHEN 2 THEN 1 ELSE 22 END AS event_id,
          i AS record_id, 0 AS src, i AS pos,
          CASE i % 4
            WHEN 0 THEN json_object('LogonType', 3, 'TargetUserName', 'user' || (i % 300),
                                    'IpAddress', '10.0.' || ((i // 7) % 200 // 250) || '.' || ((i // 7) % 200),
                                    'WorkstationName', 'HOST-' || ((i // 7) % 200), 'TargetLogonId', '0x' || i)
            WHEN 1 THEN json_object('Image', 'C:\\Program Files\\app.exe', 'Initiated', 'true',
                                    'SourceIp', '10.0.0.' || (i % 200), 'DestinationIp',
                                    CASE WHEN i % 3 = 0 THEN '10.0.0.' || ((i // 3) % 200) ELSE '198.51.100.' || (i % 250) END,
                                    'DestinationPort', CASE WHEN i % 3 = 0 THEN 445 ELSE 443 END,
                                    'ProcessGuid', '{{' || i || '}}', 'DestinationHostname', 'site' || (i % 250) || '.example.com')
            WHEN 2 THEN json_object('Image', 'C:\\Windows\\System32\\cmd.exe', 'CommandLine', 'cmd /c job ' || i,
                                    'ProcessGuid', '{{' || i || '}}', 'ParentProcessGuid', '{{' || (i - 4) || '}}',
                                    'ParentImage', 'C:\\Windows\\explorer.exe', 'User', 'CORP\\user' || (i % 300))
            ELSE json_object('QueryName', 'site' || (i % 250) || '.example.com', 'QueryResults', '::ffff:198.51.100.' || (i % 250) || ';')
          END AS fields
        FROM range(1, {events + 1}) t(i)""")
    levels = ["low", "medium", "high", "critical"]
    con.execute(f"""
        INSERT INTO detections BY NAME
        SELECT 1 AS run_id, 'rule-' || (i % 50) AS rule_id, 'Rule ' || (i % 50) AS rule_title,
          {levels}[1 + (i % 4)] AS level, ['attack.execution', 'attack.t1059'] AS tags,
          ['execution'] AS tactics, ['T1059'] AS techniques, e.eid, e.ts, e.computer, e.channel,
          e.event_id, e.record_id, 'bench' AS source
        FROM range(0, {detections}) t(i) JOIN events e ON e.eid = 1 + (i * {max(1, events // detections)})""")
    con.execute("CHECKPOINT")
    con.close()


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--events", type=int, default=1_000_000, help="events in the case store")
    ap.add_argument("--detections", type=int, default=10_000, help="detections in the case store")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "case.duckdb"
        t0 = time.perf_counter()
        build(path, args.events, args.detections)
        t_build = time.perf_counter() - t0
        # baseline: one pass over every event's JSON fields (what a correlation must at least
        # read), measured in the same run so the ratio holds on a busy machine
        t0 = time.perf_counter()
        con = duckdb.connect(str(path), read_only=True)
        con.execute("SELECT count(json_extract_string(fields, '$.Image')) FROM events").fetchall()
        con.close()
        t_base = time.perf_counter() - t0
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.perf_counter()
        result = correlate_store(path, CorrelateOptions(allowlist=load_allowlist(None)))
        t_corr = time.perf_counter() - t0
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"built {args.events:,} events / {args.detections:,} detections in {t_build:.1f}s")
    print(
        f"correlated in {t_corr:.1f}s: {len(result.stories)} stories; "
        f"timings {', '.join(f'{k} {v:.1f}s' for k, v in result.meta['timings'].items())}"
    )
    print(
        f"baseline (one pass over the events' fields) {t_base:.1f}s: "
        f"correlation/baseline {t_corr / max(t_base, 1e-6):.1f}"
    )
    print(f"peak RSS {rss / 1024:.0f} MB (before correlation {rss0 / 1024:.0f} MB)")
    return 0 if t_corr < 60 else 1


if __name__ == "__main__":
    sys.exit(main())
