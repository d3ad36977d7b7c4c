"""The distributed engine: the same compiled rules, planned as for DuckDB, run by Apache Spark.

Input is the event schema of ``detect.engine.parquet``: Parquet written by ``spearhunt
ingest --to-parquet``, or JSON Lines normalized by ``normalize.spark``, from any path or URI
Spark reads. The plan is the DuckDB engine's, so the results are too:

1. one aggregation finds the slices (channel, provider, event id) and the field names each
   slice holds;
2. each slice meets only the rule variants ``plan.Router`` sends it, folded for it by
   ``plan.specialize`` (most fold to FALSE and never reach Spark);
3. the folded trees are rendered by ``sql.Renderer`` in the Spark dialect and batched, up to
   ``RULES_PER_QUERY`` (slice, rule) pairs a query, one ``CASE WHEN`` each; a query reads
   only its slices' channel partitions and extracts only the fields its rules read from the
   ``fields`` JSON (lowercased, the original case kept for regexes and ``|cased``);
4. all queries form one Spark job whose output is the matched events themselves, so nothing
   is joined back; the driver only receives detections.

pyspark is optional: ``session`` raises ``EngineError`` naming the extra to install.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from spearhunt.detect.engine.parquet import PARQUET_COLUMNS, partition_of
from spearhunt.detect.engine.plan import Router, Target, needed_fields, specialize
from spearhunt.detect.engine.slices import slot
from spearhunt.detect.engine.sql import SPARK, Renderer, java_regex
from spearhunt.detect.sigma import ir
from spearhunt.detect.sigma.compiler import CompiledRule
from spearhunt.errors import EngineError, UsageError
from spearhunt.model import Detection
from spearhunt.model.callbacks import Progress
from spearhunt.normalize.spark import FIELDS_MAP, LAST_VALUE_FIELDS, normalize_spark_sql
from spearhunt.normalize.windows import SYSTEM_FIELD_COLUMNS, event_fields

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'spearhunt[spark]'"
# (slice, rule) pairs per query: each query is one pass over its slices' events (one JSON
# parse an event); an event evaluates only its own slice's rules, so bigger batches cost
# planning time (~1 s per 600 pairs), not evaluation time.
RULES_PER_QUERY = 600
MAP = FIELDS_MAP
JSON_SUFFIXES = (".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz", ".ndjson.gz", ".gz")

# Settings spearhunt needs whatever the cluster's defaults (the user's --spark-conf wins for
# the others): times in UTC, duplicate keys in a JSON object are not an error.
REQUIRED_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.mapKeyDedupPolicy": "LAST_WIN",
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
}
DEFAULT_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.adaptive.enabled": "true",
    "spark.driver.memory": "2g",
    # A rule query is far past the JVM's 64 KB method limit: Janino spends seconds failing to
    # compile it before Spark falls back to interpreting; interpret from the start.
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
}


def require_pyspark() -> None:
    """Raise EngineError with the install command when pyspark is missing."""
    try:
        import pyspark  # noqa: F401
    except ImportError as exc:
        raise EngineError(f"--engine spark needs pyspark and Java 17: {INSTALL_HINT}") from exc


def session(
    master: str | None = None, conf: Mapping[str, str] | None = None, app_name: str = "spearhunt"
) -> SparkSession:
    """A SparkSession for spearhunt (master None: the one spark-submit or the defaults give)."""
    require_pyspark()
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    for k, v in {**DEFAULT_CONF, **(conf or {}), **REQUIRED_CONF}.items():
        builder = builder.config(k, v)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # py4j/JVM start-up failures have no common base class
        raise EngineError(f"cannot start Spark ({master or 'default master'}): {exc}") from exc
    for k, v in REQUIRED_CONF.items():  # an existing session ignores the builder's settings
        spark.conf.set(k, v)
    return spark


def is_json_input(path: str) -> bool:
    """Does a path or URI name JSON Lines (by its name; a folder of Parquet is the default)?"""
    from pathlib import Path

    low = path.lower().rstrip("/")
    if low.endswith(JSON_SUFFIXES):
        return True
    if "://" not in path and Path(path).is_dir():
        p = Path(path)
        return not any(p.rglob("*.parquet")) and any(
            f.name.lower().endswith(JSON_SUFFIXES) for f in p.rglob("*") if f.is_file()
        )
    return False


def read_events(
    spark: SparkSession,
    paths: Sequence[str],
    *,
    time_from: str | None = None,
    time_to: str | None = None,
    json_format: bool | None = None,
) -> DataFrame:
    """Events in the Parquet schema from Parquet datasets and JSON Lines files (any URI)."""
    from pyspark.sql import functions as F

    json_paths = [
        p for p in paths if (json_format if json_format is not None else is_json_input(p))
    ]
    pq_paths = [p for p in paths if p not in json_paths]
    frames = []
    cols = [n for n, _, _ in PARQUET_COLUMNS]
    base = 0
    if pq_paths:
        try:
            df = spark.read.parquet(*pq_paths)
        except Exception as exc:  # AnalysisException: missing path, not Parquet
            raise UsageError(
                f"cannot read Parquet input {', '.join(pq_paths)}: {_first_line(exc)}"
            ) from exc
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise UsageError(
                f"not a spearhunt Parquet dataset (no {', '.join(missing)}); "
                "make one with `spearhunt ingest PATH --to-parquet DIR`"
            )
        df = df.withColumn("ts", F.col("ts").cast("timestamp_ntz"))
        df = df.withColumn(
            "p_channel",
            F.col("p_channel") if "p_channel" in df.columns else F.lit(None).cast("string"),
        )
        frames.append(df.select(*cols, "p_channel"))
        if json_paths:
            base = int(df.agg(F.max("eid")).first()[0] or 0)  # type: ignore[index]
    if json_paths:
        try:
            text = spark.read.text(json_paths)
        except Exception as exc:
            raise UsageError(
                f"cannot read JSON input {', '.join(json_paths)}: {_first_line(exc)}"
            ) from exc
        raw = text.where(F.trim("value") != "").select(
            (F.monotonically_increasing_id() + base + 1).alias("eid"),
            F.col("_metadata.file_path").alias("source"),
            F.lit(None).cast("bigint").alias("pos"),
            F.col("value").alias("j"),
        )
        raw.createOrReplaceTempView("spearhunt_raw")
        df = spark.sql(normalize_spark_sql("spearhunt_raw", time_from, time_to))
        df = df.withColumn("fields", F.expr(LAST_VALUE_FIELDS))
        # eids come from row positions: keep the normalized rows so every query sees them
        df = df.withColumn("p_channel", F.lit(None).cast("string")).persist()
        frames.append(df.select(*cols, "p_channel"))
        time_from = time_to = None  # applied by the normalization
    if not frames:
        raise UsageError("no input")
    out = frames[0]
    for f in frames[1:]:
        out = out.unionByName(f)
    if time_from:
        out = out.where(F.col("ts") >= F.lit(time_from).cast("timestamp_ntz"))
    if time_to:
        out = out.where(F.col("ts") <= F.lit(time_to).cast("timestamp_ntz"))
    return out


def count_input_files(spark: SparkSession, paths: Sequence[str]) -> int:
    """How many files the inputs name (a dataset folder or a glob names many), as Spark
    lists them; 0 when listing fails."""
    json_paths = [p for p in paths if is_json_input(p)]
    pq_paths = [p for p in paths if p not in json_paths]
    try:
        files = set(spark.read.parquet(*pq_paths).inputFiles()) if pq_paths else set()
        if json_paths:
            files |= set(spark.read.text(json_paths).inputFiles())
    except Exception:  # listing is best effort; read_events reports unreadable inputs
        return 0
    return len(files)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _s(text: str | None) -> str:
    return "NULL" if text is None else SPARK.string(text)


def column(field: str, cased: bool) -> str:
    """Spark column of a field in a rule query: lowercased values unless ``cased``."""
    return _q(slot(field, cased))


@dataclass
class SparkStats:
    """Counters of one run."""

    events: int = 0
    invalid_records: int = 0
    slices: int = 0
    queries: int = 0
    rule_slices: int = 0
    seconds_plan: float = 0.0
    seconds_rules: float = 0.0
    failed_rules: dict[int, str] = field(default_factory=dict)


@dataclass
class _Slice:
    channel: str | None
    provider: str | None
    event_id: int | None
    rows: int
    by_lower: dict[str, list[str]]  # lowercased field name -> spellings in the events
    work: list[tuple[Target, ir.Node]] = field(default_factory=list)

    def condition(self) -> str:
        return (
            f"(channel <=> {_s(self.channel)} AND provider <=> {_s(self.provider)} AND "
            f"event_id <=> {'NULL' if self.event_id is None else int(self.event_id)})"
        )

    def column(self, field: str, cased: bool) -> str:
        """Expression of a field in a rule of this slice: lowercased unless ``cased``."""
        value = self.value(ir.field_key(field))
        return value if cased else f"lower({value})"

    def value(self, f: str) -> str:
        """Expression of field ``f``'s value (original case) in this slice's events."""
        if f == "computer" and f not in self.by_lower:
            return "computer"
        if f in SYSTEM_FIELD_COLUMNS and self.by_lower.get(f) == [f]:
            return f"sys_{f}"
        keys = self.by_lower[f]
        parts = [f"m[{_s(k)}]" for k in keys]
        return parts[0] if len(parts) == 1 else f"coalesce({', '.join(parts)})"


class SparkEngine:
    """Runs compiled rules over an events DataFrame: ``run`` then ``detections``."""

    def __init__(
        self,
        spark: SparkSession,
        rules: Sequence[CompiledRule],
        *,
        rules_per_query: int = RULES_PER_QUERY,
        eid_base: int = 0,
    ) -> None:
        self.spark = spark
        self.rules = list(rules)
        self.router = Router(self.rules)
        self.rules_per_query = rules_per_query
        self.eid_base = eid_base
        self.stats = SparkStats()
        self._hits: DataFrame | None = None
        self._regex_verdicts: dict[tuple[str, str], str | None] = {}

    # ------------------------------------------------------------------ planning
    def _discover(self, events: DataFrame) -> list[_Slice]:
        from pyspark.sql import functions as F

        rows = (
            events.groupBy("channel", "provider", "event_id")
            .agg(
                F.count(F.lit(1)).alias("n"),
                F.count_if(F.col("fields").isNull()).alias("invalid"),
                F.array_distinct(
                    F.flatten(F.collect_set(F.expr("json_object_keys(fields)")))
                ).alias("keys"),
                F.bool_or(F.col("sys_provider_name").isNotNull()).alias("evtx"),
            )
            .collect()
        )
        slices = []
        for r in rows:
            self.stats.events += r["n"] - r["invalid"]
            self.stats.invalid_records += r["invalid"]
            if r["n"] == r["invalid"]:
                continue
            keys = list(r["keys"] or [])
            if r["evtx"]:
                known = {ir.field_key(k) for k in keys}
                keys += [k for k in SYSTEM_FIELD_COLUMNS if k not in known]
            by_lower: dict[str, list[str]] = {}
            for k in keys:
                by_lower.setdefault(ir.field_key(k), []).append(k)
            slices.append(
                _Slice(r["channel"], r["provider"], r["event_id"], r["n"] - r["invalid"], by_lower)
            )
        slices.sort(key=lambda s: (str(s.channel), str(s.provider), s.event_id or 0))
        return slices

    def _plan(self, slices: list[_Slice]) -> list[tuple[_Slice, Target, ir.Node]]:
        pairs = []
        for s in slices:
            targets = self.router.candidates(s.channel, s.provider, s.event_id)
            present = set(s.by_lower) | {"computer"}
            for t in targets:
                if t.index in self.stats.failed_rules:
                    continue
                tree = specialize(t, s.channel, s.provider, s.event_id, present)
                if tree == ir.FALSE:
                    continue
                problem = self._regex_problem(tree)
                if problem:
                    self.stats.failed_rules[t.index] = problem
                    continue
                s.work.append((t, tree))
                pairs.append((s, t, tree))
            self.stats.slices += bool(s.work)
        self.stats.rule_slices = len(pairs)
        return pairs

    def _regex_problem(self, tree: ir.Node) -> str | None:
        """Java's verdict on the rule's regexes (a bad one would fail the whole Spark job)."""
        for node in _regexes(tree):
            key = (node.pattern, node.flags)
            if key not in self._regex_verdicts:
                try:
                    self.spark._jvm.java.util.regex.Pattern.compile(  # type: ignore[union-attr]
                        java_regex(node.pattern, node.flags)
                    )
                    self._regex_verdicts[key] = None
                except Exception as exc:  # Py4JJavaError: PatternSyntaxException
                    self._regex_verdicts[key] = f"regex not valid in Java: {_first_line(exc)}"
            if self._regex_verdicts[key]:
                return self._regex_verdicts[key]
        return None

    def _query(self, part: list[tuple[_Slice, Target, ir.Node]], partitioned: bool) -> str:
        """One query for a batch of (slice, rule) pairs.

        The fields the batch's rules read are extracted once per event (one JSON parse, one
        map lookup and one ``lower`` a field); each event then evaluates only the rules of its
        own slice: a CASE on the slice number holds one array of rule CASEs a slice.
        """
        slices: dict[int, tuple[int, _Slice]] = {}
        by_slice: dict[int, list[tuple[Target, ir.Node]]] = {}
        for s, t, tree in part:
            slices.setdefault(id(s), (len(slices), s))
            by_slice.setdefault(id(s), []).append((t, tree))
        exprs: dict[str, dict[str, list[int]]] = {}
        keyword = False
        for key, (g, s) in slices.items():
            lower, cased = needed_fields(tree for _, tree in by_slice[key])
            keyword |= "*" in lower
            for f in sorted(lower - {"*"}):
                if f not in s.by_lower and f != "computer":
                    continue  # folded away for this slice
                value = s.value(f)
                exprs.setdefault(column(f, False), {}).setdefault(f"lower({value})", []).append(g)
                if f in cased:
                    exprs.setdefault(column(f, True), {}).setdefault(value, []).append(g)
        cols = []
        for name, by_expr in exprs.items():
            if len(by_expr) == 1:
                cols.append(f"{next(iter(by_expr))} AS {name}")
            else:
                whens = " ".join(
                    f"WHEN g IN ({', '.join(map(str, gs))}) THEN {e}" for e, gs in by_expr.items()
                )
                cols.append(f"CASE {whens} END AS {name}")
        if keyword:
            cols += [
                "lower(concat_ws(char(10), map_values(m))) AS _kw",
                "concat_ws(char(10), map_values(m)) AS _kw_cs",
            ]
        renderer = Renderer(SPARK, column)
        branches = []
        for key, (g, _) in slices.items():
            cases = ", ".join(
                f"CASE WHEN {renderer.render(tree)} THEN {t.index} END" for t, tree in by_slice[key]
            )
            branches.append(f"WHEN {g} THEN array({cases})")
        which = " ".join(f"WHEN {s.condition()} THEN {g}" for g, s in slices.values())
        channels = sorted({s.channel for _, s in slices.values()}, key=str)
        prune = (
            f"p_channel IN ({', '.join(_s(partition_of(c)) for c in channels)})"
            if partitioned
            else f"(channel IN ({', '.join(_s(c) for c in channels if c is not None) or 'NULL'})"
            + (" OR channel IS NULL)" if None in channels else ")")
        )
        return (
            "SELECT rule, eid, ts, computer, channel, event_id, record_id, source, fields FROM ("
            "SELECT eid, ts, computer, channel, event_id, record_id, source, fields, "
            f"explode(CASE g {' '.join(branches)} END) AS rule FROM ("
            f"SELECT eid, ts, computer, channel, event_id, record_id, source, fields, g, "
            f"{', '.join(cols) if cols else 'NULL AS _none'} FROM ("
            f"SELECT *, {MAP} AS m FROM ("
            f"SELECT *, CASE {which} END AS g FROM spearhunt_events "
            f"WHERE {prune} AND fields IS NOT NULL) WHERE g IS NOT NULL))) WHERE rule IS NOT NULL"
        )

    def _anywhere_query(self) -> str | None:
        """Product-wide rules (keyword searches over every Windows log) in one pass."""
        if not self.router.anywhere:
            return None
        renderer = Renderer(SPARK, _event_column, keyword_json="fields")
        cases = ", ".join(
            f"CASE WHEN {renderer.render(t.tree)} THEN {t.index} END"
            for t in self.router.anywhere
            if t.index not in self.stats.failed_rules
        )
        if not cases:
            return None
        return (
            "SELECT rule, eid, ts, computer, channel, event_id, record_id, source, fields FROM ("
            "SELECT eid, ts, computer, channel, event_id, record_id, source, fields, "
            f"explode(array({cases})) AS rule FROM spearhunt_events WHERE fields IS NOT NULL) "
            "WHERE rule IS NOT NULL"
        )

    # ------------------------------------------------------------------ running
    def run(self, events: DataFrame, on_progress: Progress | None = None) -> DataFrame:
        """Plan and submit every rule; returns the (lazy) DataFrame of matched events."""
        t0 = time.perf_counter()
        partitioned = (
            "p_channel" in events.columns
            and events.where("p_channel IS NOT NULL").limit(1).count() > 0
        )
        events.createOrReplaceTempView("spearhunt_events")
        if on_progress:
            on_progress(0, None, "finding slices")
        slices = self._discover(events)
        pairs = self._plan(slices)
        for t in self.router.anywhere:
            problem = self._regex_problem(t.tree)
            if problem:
                self.stats.failed_rules[t.index] = problem
        texts = [
            self._query(pairs[i : i + self.rules_per_query], partitioned)
            for i in range(0, len(pairs), self.rules_per_query)
        ]
        anywhere = self._anywhere_query()
        if anywhere:
            texts.append(anywhere)
        frames = []
        for n, text in enumerate(texts, 1):
            frames.append(
                self._frame(
                    text,
                    pairs[(n - 1) * self.rules_per_query : n * self.rules_per_query],
                    partitioned,
                )
            )
            if on_progress:
                on_progress(n, len(texts), "planning rule queries")
        self.stats.queries = len(frames)
        self.stats.seconds_plan = time.perf_counter() - t0
        if not frames:
            return self._empty()
        hits = frames[0]
        for f in frames[1:]:
            hits = hits.unionAll(f)
        # Kept once computed: sorting samples its input, which would run every rule twice.
        self._hits = hits.dropDuplicates(["rule", "eid"]).persist()
        return self._hits

    def _frame(
        self, text: str, part: list[tuple[_Slice, Target, ir.Node]], partitioned: bool
    ) -> DataFrame:
        """Analyse one query; a rule Spark refuses is set aside and the others still run."""
        try:
            return self.spark.sql(text)
        except Exception as exc:  # ParseException / AnalysisException
            if not part:
                raise EngineError(f"Spark refused a rule query: {_first_line(exc)}") from exc
            if len(part) == 1:
                self.stats.failed_rules[part[0][1].index] = _first_line(exc)
                return self._empty()
        frames = [
            self._frame(self._query([p], partitioned), [p], partitioned)
            for p in part
            if p[1].index not in self.stats.failed_rules
        ]
        out = frames[0] if frames else self._empty()
        for f in frames[1:]:
            out = out.unionAll(f)
        return out

    def _empty(self) -> DataFrame:
        return self.spark.sql(
            "SELECT CAST(NULL AS INT) AS rule, eid, ts, computer, channel, event_id, record_id, "
            "source, fields FROM spearhunt_events WHERE FALSE"
        )

    def detections(self, hits: DataFrame | None = None) -> Iterator[Detection]:
        """Every (rule, event) match in time order (then event, then rule), as DuckDB gives."""
        from pyspark.sql import functions as F

        df = hits if hits is not None else self._hits
        if df is None:
            return
        t0 = time.perf_counter()
        ordered = df.orderBy(F.col("ts").asc_nulls_last(), "eid", "rule")
        for r in ordered.toLocalIterator(prefetchPartitions=True):
            rule = int(r["rule"])
            yield Detection(
                self.rules[rule].info,
                r["ts"],
                r["computer"],
                r["channel"],
                r["event_id"],
                r["record_id"],
                r["source"] or "",
                event_fields(r["fields"]),
                int(r["eid"]) + self.eid_base,
            )
        self.stats.seconds_rules += time.perf_counter() - t0


def _regexes(node: ir.Node) -> Iterator[ir.Regex]:
    match node:
        case ir.And(args) | ir.Or(args):
            for a in args:
                yield from _regexes(a)
        case ir.Not(arg):
            yield from _regexes(arg)
        case ir.Regex():
            yield node


_EVENT_COLUMNS = {
    "eventid": "CAST(event_id AS STRING)",
    "channel": "channel",
    "provider_name": "provider",
    "computer": "computer",
}


def _event_column(field: str, cased: bool) -> str:
    """A field as an expression over the events view (for product-wide rules)."""
    key = ir.field_key(field)
    path = "$['" + field.replace("\\", "\\\\").replace("'", "\\'") + "']"
    expr = _EVENT_COLUMNS.get(key) or f"get_json_object(fields, {_s(path)})"
    return expr if cased else f"lower({expr})"
