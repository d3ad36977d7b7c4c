"""A pySigma backend whose output is the predicate tree of ``ir``, not query text.

pySigma does the hard parts (rule model, modifiers such as windash/base64offset/utf16,
pipelines); this backend only maps each condition node onto an ``ir`` node. Engines render
the tree for their dialect, so DuckDB and Spark run the very same compiled rule.
"""

from __future__ import annotations

from typing import Any, ClassVar, NoReturn, cast

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.conversion.base import Backend
from sigma.conversion.state import ConversionState
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError, SigmaValueError
from sigma.rule import SigmaRule
from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaFieldReference,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

from spearhunt.detect.sigma import ir

_CMP = {
    CompareOperators.LT: "<",
    CompareOperators.LTE: "<=",
    CompareOperators.GT: ">",
    CompareOperators.GTE: ">=",
}
_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: "i",
    SigmaRegularExpressionFlag.MULTILINE: "m",
    SigmaRegularExpressionFlag.DOTALL: "s",
}


def string_match(s: SigmaString, cased: bool) -> tuple[str, str]:
    """(op, value) for a Sigma string: the cheapest operator that expresses its wildcards."""
    if s.contains_placeholder():
        names = ", ".join(sorted({p.name for p in s.s if isinstance(p, Placeholder)}))
        raise SigmaValueError(f"unresolved placeholder %{names}% (define it with --placeholders)")
    parts = list(s.s)
    lead = bool(parts) and parts[0] == SpecialChars.WILDCARD_MULTI
    trail = len(parts) > (1 if lead else 0) and parts[-1] == SpecialChars.WILDCARD_MULTI
    core = parts[1 if lead else 0 : len(parts) - (1 if trail else 0)]
    if all(isinstance(p, str) for p in core):
        text = "".join(core)  # type: ignore[arg-type]
        text = text if cased else text.lower()
        op = "contains" if lead and trail else "suffix" if lead else "prefix" if trail else "eq"
        if op == "contains" and text == "":
            op, text = "glob", "*"
        return op, text
    out = []
    for p in parts:
        if p == SpecialChars.WILDCARD_MULTI:
            out.append("*")
        elif p == SpecialChars.WILDCARD_SINGLE:
            out.append("?")
        else:
            text = cast("str", p)  # placeholders are expanded before conversion
            lit = text if cased else text.lower()
            out.append(lit.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?"))
    return "glob", "".join(out)


def _match(field: str, s: SigmaString, cased: bool) -> ir.Node:
    op, value = string_match(s, cased)
    if op == "glob" and value.strip("*") == "" and value:
        return ir.Exists(field)  # '*' alone: any value
    return ir.Match(field, op, value, cased)


class IRBackend(Backend):
    """Converts Sigma rules into ``ir`` predicate trees (one per condition)."""

    name: ClassVar[str] = "spearhunt predicate tree"
    formats: ClassVar[dict[str, str]] = {"default": "spearhunt.detect.sigma.ir nodes"}
    requires_pipeline: ClassVar[bool] = False

    # -- boolean structure
    def convert_condition_or(self, cond: ConditionOR, state: ConversionState) -> ir.Node:
        return ir.or_(*(self.convert_condition(a, state) for a in cond.args))

    def convert_condition_and(self, cond: ConditionAND, state: ConversionState) -> ir.Node:
        return ir.and_(*(self.convert_condition(a, state) for a in cond.args))

    def convert_condition_not(self, cond: ConditionNOT, state: ConversionState) -> ir.Node:
        return ir.not_(self.convert_condition(cond.args[0], state))

    def convert_condition_as_in_expression(self, cond: Any, state: ConversionState) -> ir.Node:
        return self.convert_condition_or(cond, state)

    # -- field = value
    def convert_condition_field_eq_val_str(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        return _match(cond.field, cast("SigmaString", cond.value), cased=False)

    def convert_condition_field_eq_val_str_case_sensitive(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        return _match(cond.field, cast("SigmaString", cond.value), cased=True)

    def convert_condition_field_eq_val_num(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        value = cast("SigmaNumber", cond.value)
        return ir.Match(cond.field, "eq", str(value.number))

    def convert_condition_field_eq_val_bool(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        value = cast("SigmaBool", cond.value)
        words = ("true", "1") if value.boolean else ("false", "0")
        return ir.or_(*(ir.Match(cond.field, "eq", w) for w in words))

    def convert_condition_field_eq_val_re(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        value = cast("SigmaRegularExpression", cond.value)
        flags = "".join(sorted(_FLAGS[f] for f in value.flags))
        return ir.Regex(cond.field, str(value.regexp), flags)

    def convert_condition_field_eq_val_cidr(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        value = cast("SigmaCIDRExpression", cond.value)
        return ir.or_(*(_match(cond.field, SigmaString(p), False) for p in value.expand("*")))

    def convert_condition_field_compare_op_val(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        value = cast("SigmaCompareExpression", cond.value)
        if value.op not in _CMP:
            return ir.not_(ir.Match(cond.field, "eq", str(value.number.number)))
        return ir.Cmp(cond.field, _CMP[value.op], float(value.number.number))

    def convert_condition_field_eq_field(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        value = cast("SigmaFieldReference", cond.value)
        op = "prefix" if value.starts_with else "suffix" if value.ends_with else "eq"
        return ir.FieldRef(cond.field, value.field, op)

    def convert_condition_field_eq_val_null(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        return ir.IsNull(cond.field)

    def convert_condition_field_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        return ir.Exists(cond.field)

    def convert_condition_field_not_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        return ir.not_(ir.Exists(cond.field))

    def convert_condition_field_eq_val_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        return ir.Exists(cond.field) if cond.value else ir.not_(ir.Exists(cond.field))

    # -- field-less (keyword) searches
    def convert_condition_val_str(
        self, cond: ConditionValueExpression, state: ConversionState
    ) -> ir.Node:
        value = cast("SigmaString", cond.value)
        cased = isinstance(value, SigmaCasedString)
        op, text = string_match(value, cased)
        # A keyword is found anywhere inside some field's value, as full-text backends treat it.
        if op != "glob":
            op = "contains"
        else:
            text = ("" if text.startswith("*") else "*") + text
            text += "" if text.endswith("*") and not text.endswith("\\*") else "*"
        return ir.Keyword(op, text, cased)

    def convert_condition_val_num(
        self, cond: ConditionValueExpression, state: ConversionState
    ) -> ir.Node:
        return ir.Keyword("contains", str(cast("SigmaNumber", cond.value).number))

    def convert_condition_val_re(
        self, cond: ConditionValueExpression, state: ConversionState
    ) -> NoReturn:
        raise SigmaFeatureNotSupportedByBackendError("regular expressions without a field")

    # -- unsupported
    def convert_condition_field_eq_val_timestamp_part(self, cond: Any, state: Any) -> NoReturn:
        raise SigmaFeatureNotSupportedByBackendError("timestamp-part modifiers (minute, hour ...)")

    def convert_condition_field_eq_query_expr(self, cond: Any, state: Any) -> NoReturn:
        raise SigmaFeatureNotSupportedByBackendError("query-expression placeholders")

    def convert_condition_query_expr(self, cond: Any, state: Any) -> NoReturn:
        raise SigmaFeatureNotSupportedByBackendError("query-expression placeholders")

    # Correlation rules are compiled by spearhunt.correlate, not by this backend.
    def _no_correlation(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise SigmaFeatureNotSupportedByBackendError("correlation rules in the detection backend")

    convert_correlation_event_count_rule = _no_correlation
    convert_correlation_value_count_rule = _no_correlation
    convert_correlation_temporal_rule = _no_correlation
    convert_correlation_temporal_ordered_rule = _no_correlation
    convert_correlation_extended_temporal_rule = _no_correlation
    convert_correlation_extended_temporal_ordered_rule = _no_correlation
    convert_correlation_value_sum_rule = _no_correlation
    convert_correlation_value_avg_rule = _no_correlation
    convert_correlation_value_percentile_rule = _no_correlation
    convert_correlation_value_median_rule = _no_correlation


def compile_rule(backend: IRBackend, rule: SigmaRule) -> list[ir.Node]:
    """The predicate trees of one (already pipeline-processed) rule; raises SigmaError."""
    return list(backend.convert_rule(rule))
