"""Render a predicate tree (``spearhunt.detect.sigma.ir``) as a SQL boolean expression.

Dialects differ in a handful of tokens (function names, string escaping, regex operator), so
each dialect is a row of data, as in sqlglot's dialect tables. Rendering is plain string
building because it runs for every rule and every slice of events (thousands of times a run);
``to_sqlglot`` builds the same expression as a sqlglot tree, and the tests check that both
agree for every SigmaHQ rule, so sqlglot remains the reference for any other dialect.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from spearhunt.detect.sigma import ir

if TYPE_CHECKING:
    from sqlglot import exp

# Or-lists of at least this many substring/prefix/suffix literals on one field become one
# regex: one automaton pass instead of N scans (measured 20x on hash and path lists).
REGEX_FOLD_MIN = 8


@dataclass(frozen=True, slots=True)
class Dialect:
    """The tokens in which two SQL engines differ."""

    name: str
    prefix: str  # function(text, prefix)
    suffix: str
    contains: str
    regex: str  # template with {col} and {pat}
    backslash_in_strings: bool  # does a string literal treat backslash as an escape?
    double: str = "DOUBLE"
    # (pattern, flags) -> the pattern as this engine must read it to mean what RE2 means
    regex_flavour: Callable[[str, str], str] | None = None
    # Long or-lists of substrings: one regex by default (RE2: one automaton pass); engines
    # whose regexes backtrack through every alternative at every offset (java.util.regex)
    # give a template with {fn}, {col} and {values} instead.
    any_of: str | None = None

    def string(self, value: str) -> str:
        """A SQL string literal for ``value``."""
        v = value.replace("'", "''")
        if self.backslash_in_strings:
            v = v.replace("\\", "\\\\")
        return f"'{v}'"


DUCKDB = Dialect(
    "duckdb",
    "starts_with",
    "suffix",
    "contains",
    "regexp_matches({col}, {pat})",
    backslash_in_strings=False,
)


def java_regex(pattern: str, flags: str) -> str:
    """An RE2 pattern (DuckDB's flavour, the reference) rewritten for java.util.regex (Spark).

    Where the two differ on the patterns Sigma rules use: Java's ``.`` and ``$`` know five line
    terminators and ``$`` also matches before a final one (RE2: ``\\n`` only, ``$`` only at the
    end unless ``m``): flag ``d`` and ``$`` -> ``\\z``; Java's ``(?i)`` folds ASCII only (flag
    ``u`` added); ``(?P<name>`` is RE2-only; inside a class Java reads ``[`` and ``&&`` as
    class operators and rejects a leading ``]``; a ``{`` that starts no repetition is a
    literal in RE2 and an error in Java; POSIX ``[:alpha:]`` classes are ``\\p{Alpha}``.
    """
    multiline = "m" in flags or re.search(r"\(\?[a-z]*m[a-z]*[):]", pattern) is not None
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    class_start = -1
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            if pattern[i + 1] == "Q":  # quoted span: copy verbatim up to \E
                end = pattern.find("\\E", i + 2)
                end = n if end < 0 else end + 2
                out.append(pattern[i:end])
                i = end
                continue
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            posix = re.match(r"\[:(\^?)([a-z]+):\]", pattern[i:])
            if posix:
                name = posix.group(2).capitalize().replace("Xdigit", "XDigit")
                out.append(("\\P" if posix.group(1) else "\\p") + "{" + name + "}")
                i += posix.end()
                continue
            if c == "]" and i != class_start:
                in_class = False
                out.append(c)
            elif c in "[&" or c == "]":
                out.append("\\" + c)
            else:
                out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            out.append(c)
            i += 1
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            class_start = i
            continue
        if pattern.startswith("(?P<", i):
            out.append("(?<")
            i += 4
            continue
        if c == "{" and not re.match(r"\{\d+(,\d*)?\}", pattern[i:]):
            out.append("\\{")
        elif c == "$" and not multiline:
            out.append("\\z")
        else:
            out.append(c)
        i += 1
    java_flags = "d" + ("u" if "i" in flags else "") + flags
    return f"(?{java_flags}){''.join(out)}"


SPARK = Dialect(
    "spark",
    "startswith",
    "endswith",
    "contains",
    "({col} RLIKE {pat})",
    backslash_in_strings=True,
    regex_flavour=java_regex,
    any_of="exists(array({values}), _v -> {fn}({col}, _v))",
)
DIALECTS = {d.name: d for d in (DUCKDB, SPARK)}

Columns = Callable[[str, bool], str]  # (field, cased) -> SQL column expression


def like_pattern(glob: str) -> str:
    """Sigma glob (``*``, ``?``, backslash escapes) -> LIKE pattern with ``\\`` as escape."""
    out = []
    i = 0
    while i < len(glob):
        c = glob[i]
        if c == "\\" and i + 1 < len(glob) and glob[i + 1] in "*?\\":
            lit = glob[i + 1]
            out.append("\\\\" if lit == "\\" else lit)
            i += 2
            continue
        if c == "*":
            out.append("%")
        elif c == "?":
            out.append("_")
        elif c in "%_\\":
            out.append("\\" + c)
        else:
            out.append(c)
        i += 1
    return "".join(out)


def json_escape(text: str) -> str:
    """How ``text`` appears inside a JSON string (minimal escaping, as our JSON writers do)."""
    import json

    return json.dumps(text, ensure_ascii=False)[1:-1]


def regex_literal(text: str) -> str:
    """Escape a literal for RE2 and Java regexes alike (only ASCII punctuation is escaped)."""
    return re.sub(r"([\\^$.|?*+()\[\]{}/-])", r"\\\1", text)


def regex_with_flags(pattern: str, flags: str) -> str:
    """Inline flags work the same in RE2 (DuckDB) and java.util.regex (Spark)."""
    return f"(?{flags}){pattern}" if flags else pattern


class Renderer:
    """Renders trees for one dialect over columns named by ``columns``."""

    def __init__(
        self,
        dialect: Dialect,
        columns: Columns,
        keyword_column: str = "_kw",
        keyword_json: str | None = None,
    ) -> None:
        self.d = dialect
        self.col = columns
        self.kw = keyword_column
        # With keyword_json, keywords search the event's JSON text (an expression), their
        # values escaped as JSON escapes them: one pass, no per-field column needed.
        self.kw_json = keyword_json

    def render(self, node: ir.Node) -> str:
        """SQL text of a boolean expression."""
        match node:
            case ir.Const(value):
                return "TRUE" if value else "FALSE"
            case ir.And(args):
                return "(" + " AND ".join(self.render(a) for a in args) + ")"
            case ir.Or(args):
                return self._or(args)
            case ir.Not(arg):
                return f"(NOT COALESCE({self.render(arg)}, FALSE))"
            case ir.Match(field, op, value, cased):
                return self._match(self.col(field, cased), op, value)
            case ir.Regex(field, pattern, flags):
                return self._regex(self.col(field, True), pattern, flags)
            case ir.Cmp(field, op, number):
                num = repr(int(number)) if number.is_integer() else repr(number)
                return f"(TRY_CAST({self.col(field, False)} AS {self.d.double}) {op} {num})"
            case ir.Exists(field):
                return f"({self.col(field, False)} IS NOT NULL)"
            case ir.IsNull(field):
                col = self.col(field, False)
                return f"({col} IS NULL OR {col} = '')"
            case ir.FieldRef(field, other, op, cased):
                a, b = self.col(field, cased), self.col(other, cased)
                if op == "eq":
                    return f"({a} = {b})"
                fn = self.d.prefix if op == "prefix" else self.d.suffix
                return f"{fn}({a}, {b})"
            case ir.Keyword(op, value, cased):
                if self.kw_json is not None:
                    text = self.kw_json if cased else f"lower({self.kw_json})"
                    if op == "glob":
                        return self._match(text, op, value.replace("\\\\", "\\\\\\\\"))
                    return self._match(text, "contains", json_escape(value))
                col = self.kw + ("_cs" if cased else "")
                return self._match(col, op, value)
        raise TypeError(f"not a predicate node: {node!r}")

    def _match(self, col: str, op: str, value: str) -> str:
        s = self.d.string
        if op == "eq":
            return f"({col} = {s(value)})"
        if op == "prefix":
            return f"{self.d.prefix}({col}, {s(value)})"
        if op == "suffix":
            return f"{self.d.suffix}({col}, {s(value)})"
        if op == "contains":
            return f"{self.d.contains}({col}, {s(value)})"
        return f"({col} LIKE {s(like_pattern(value))} ESCAPE {s(chr(92))})"

    def _regex(self, col: str, pattern: str, flags: str) -> str:
        flavour = self.d.regex_flavour
        pat = flavour(pattern, flags) if flavour else regex_with_flags(pattern, flags)
        return self.d.regex.format(col=col, pat=self.d.string(pat))

    def _or(self, args: tuple[ir.Node, ...]) -> str:
        groups: dict[tuple[str, str, bool], list[str]] = defaultdict(list)
        keywords: list[str] = []
        rest: list[ir.Node] = []
        for a in args:
            if isinstance(a, ir.Match) and a.op != "glob":
                groups[(a.field, a.op, a.cased)].append(a.value)
            elif (
                isinstance(a, ir.Keyword)
                and self.kw_json is not None
                and a.op != "glob"
                and not a.cased
            ):
                keywords.append(json_escape(a.value))
            else:
                rest.append(a)
        parts: list[str] = []
        if len(keywords) > 1:
            # One case-insensitive automaton over the raw JSON text: no lower() copy of every
            # event and one pass instead of one per keyword.
            alts = "|".join(regex_literal(v) for v in sorted(set(keywords)))
            parts.append(
                self.d.regex.format(col=self.kw_json, pat=self.d.string(f"(?i)(?:{alts})"))
            )
        else:
            rest.extend(ir.Keyword("contains", v) for v in keywords)
        for (field, op, cased), values in groups.items():
            col = self.col(field, cased)
            if op == "eq" and len(values) > 1:
                parts.append(f"({col} IN ({', '.join(self.d.string(v) for v in values)}))")
            elif op != "eq" and len(values) >= REGEX_FOLD_MIN and self.d.any_of:
                fn = {
                    "prefix": self.d.prefix,
                    "suffix": self.d.suffix,
                    "contains": self.d.contains,
                }[op]
                parts.append(
                    self.d.any_of.format(
                        fn=fn, col=col, values=", ".join(self.d.string(v) for v in values)
                    )
                )
            elif op != "eq" and len(values) >= REGEX_FOLD_MIN:
                alts = "|".join(regex_literal(v) for v in sorted(set(values)))
                pat = {
                    "prefix": f"^(?:{alts})",
                    "suffix": f"(?:{alts})$",
                    "contains": f"(?:{alts})",
                }[op]
                parts.append(self._regex(col, pat, ""))
            else:
                parts.extend(self._match(col, op, v) for v in values)
        parts.extend(self.render(a) for a in rest)
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"


# ---------------------------------------------------------------- the sqlglot reference


def to_sqlglot(node: ir.Node, columns: Callable[[str, bool], exp.Expr]) -> exp.Expr:
    """The same expression as a sqlglot tree (no folding of or-lists), for any dialect."""
    from sqlglot import exp  # only the reference path needs sqlglot; keep start-up fast

    def lit(v: str) -> exp.Expr:
        return exp.Literal.string(v)

    def match(col: exp.Expr, op: str, value: str) -> exp.Expr:
        if op == "eq":
            return exp.EQ(this=col, expression=lit(value))
        if op == "prefix":
            return exp.StartsWith(this=col, expression=lit(value))
        if op == "suffix":
            return exp.EndsWith(this=col, expression=lit(value))
        if op == "contains":
            return exp.Anonymous(this="contains", expressions=[col, lit(value)])
        return exp.Escape(
            this=exp.Like(this=col, expression=lit(like_pattern(value))), expression=lit("\\")
        )

    def go(n: ir.Node) -> exp.Expr:
        match n:
            case ir.Const(value):
                return exp.true() if value else exp.false()
            case ir.And(args):
                return exp.and_(*(go(a) for a in args))
            case ir.Or(args):
                return exp.or_(*(go(a) for a in args))
            case ir.Not(arg):
                return exp.Not(this=exp.Coalesce(this=go(arg), expressions=[exp.false()]))
            case ir.Match(field, op, value, cased):
                return match(columns(field, cased), op, value)
            case ir.Regex(field, pattern, flags):
                return exp.RegexpLike(
                    this=columns(field, True), expression=lit(regex_with_flags(pattern, flags))
                )
            case ir.Cmp(field, op, number):
                cast = exp.TryCast(this=columns(field, False), to=exp.DataType.build("DOUBLE"))
                cls = {"<": exp.LT, "<=": exp.LTE, ">": exp.GT, ">=": exp.GTE}[op]
                return cls(this=cast, expression=exp.Literal.number(number))
            case ir.Exists(field):
                return exp.Not(this=exp.Is(this=columns(field, False), expression=exp.Null()))
            case ir.IsNull(field):
                col = columns(field, False)
                return exp.or_(
                    exp.Is(this=col, expression=exp.Null()),
                    exp.EQ(this=col.copy(), expression=lit("")),
                )
            case ir.FieldRef(field, other, op, cased):
                a, b = columns(field, cased), columns(other, cased)
                cls2 = {"eq": exp.EQ, "prefix": exp.StartsWith, "suffix": exp.EndsWith}[op]
                return cls2(this=a, expression=b)
            case ir.Keyword(op, value, cased):
                return match(exp.column("_kw_cs" if cased else "_kw"), op, value)
        raise TypeError(f"not a predicate node: {n!r}")

    return go(node)
