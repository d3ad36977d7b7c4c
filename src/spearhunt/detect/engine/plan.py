"""Plan which rules run on which slice of events, and fold each rule for its slice.

Events are sliced by (channel, provider, event id). A rule's tree names the channels and
event ids it can ever match; the router indexes rules by them so a slice only meets the rules
that could fire on it, and ``ir.specialize`` folds away what the slice already decides (its
constant channel/provider/event id, fields no event of the slice has). Most rules fold to
FALSE for most slices and are never sent to the engine.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from spearhunt.detect.sigma import ir
from spearhunt.detect.sigma.compiler import CompiledRule
from spearhunt.detect.sigma.pipelines import SYSTEM_CHANNEL as SYSTEM_CHANNEL_FIELD

SYSTEM_CHANNEL = ir.field_key(SYSTEM_CHANNEL_FIELD)
CONSTANT_FIELDS = (SYSTEM_CHANNEL, "provider_name", "eventid")


@dataclass(frozen=True, slots=True)
class Route:
    """The channels and event ids a tree can match (None: any)."""

    channels: frozenset[str] | None
    event_ids: frozenset[int] | None
    providers: frozenset[str] | None


ANY = Route(None, None, None)


def _meet(a: frozenset[str] | frozenset[int] | None, b: frozenset | None) -> frozenset | None:  # type: ignore[type-arg]
    if a is None:
        return b
    if b is None:
        return a
    return a & b


def _join(a: frozenset | None, b: frozenset | None) -> frozenset | None:  # type: ignore[type-arg]
    if a is None or b is None:
        return None
    return a | b


def route(node: ir.Node) -> Route:
    """Necessary conditions on channel / event id / provider for the tree to be true."""
    match node:
        case ir.Match(field, "eq", value, False):
            key = ir.field_key(field)
            # A rule's own Channel routes like the logsource's: the two differ only on events
            # that carry a Channel field (event 104), and rules for those have a logsource
            # channel too (a product-wide rule naming a cleared log alone misses event 104).
            if key in (SYSTEM_CHANNEL, "channel"):
                return Route(frozenset({value}), None, None)
            if key == "eventid" and value.lstrip("-").isdigit():
                return Route(None, frozenset({int(value)}), None)
            if key == "provider_name":
                return Route(None, None, frozenset({value}))
            return ANY
        case ir.And(args):
            r = ANY
            for a in args:
                s = route(a)
                r = Route(
                    _meet(r.channels, s.channels),
                    _meet(r.event_ids, s.event_ids),
                    _meet(r.providers, s.providers),
                )
            return r
        case ir.Or(args):
            r = route(args[0])
            for a in args[1:]:
                if r == ANY:  # a union with "anything" stays "anything": skip the rest
                    return ANY
                s = route(a)
                r = Route(
                    _join(r.channels, s.channels),
                    _join(r.event_ids, s.event_ids),
                    _join(r.providers, s.providers),
                )
            return r
        case ir.Const(False):
            return Route(frozenset(), frozenset(), frozenset())
        case _:
            return ANY


@dataclass(frozen=True, slots=True)
class Target:
    """One compiled variant of one rule, as the engine runs it."""

    index: int  # position of the rule in the rule list
    variant: str
    tree: ir.Node
    route: Route


class Router:
    """Index of rule variants by channel and event id."""

    def __init__(self, rules: Sequence[CompiledRule]) -> None:
        self.by_channel: dict[str, list[Target]] = defaultdict(list)
        self.by_provider: dict[str, list[Target]] = defaultdict(list)
        self.unrouted: list[tuple[int, str]] = []  # rule variants with no channel nor provider
        self.anywhere: list[Target] = []  # product-wide rules (no category, service or event id)
        for i, rule in enumerate(rules):
            for variant, tree in rule.variants:
                r = route(tree)
                t = Target(i, variant, tree, r)
                if r.channels is not None:
                    for ch in r.channels:
                        self.by_channel[ch].append(t)
                elif r.providers is not None:
                    for p in r.providers:
                        self.by_provider[p].append(t)
                elif r.event_ids is None and rule.logsource[1:] == (None, None):
                    self.anywhere.append(t)  # e.g. keyword rules over every Windows log
                else:
                    # Matching on event id alone would fire across unrelated logs.
                    self.unrouted.append((i, variant))

    def candidates(
        self, channel: str | None, provider: str | None, event_id: int | None
    ) -> list[Target]:
        """Rule variants that may match events of this slice."""
        ch = (channel or "").lower()
        pv = (provider or "").lower()
        out = []
        for t in (*self.by_channel.get(ch, ()), *self.by_provider.get(pv, ())):
            if t.route.event_ids is not None and event_id not in t.route.event_ids:
                continue
            if t.route.providers is not None and pv not in t.route.providers:
                continue
            out.append(t)
        return out


def specialize(
    target: Target,
    channel: str | None,
    provider: str | None,
    event_id: int | None,
    present: set[str],
) -> ir.Node:
    """The target's tree folded for one slice (``present``: lowercased field names seen).

    A rule's own ``Channel`` is the events' field of that name where they have one (event
    104's cleared log), else the System channel, as the logsource's channel always is.
    """
    constants = {SYSTEM_CHANNEL: channel, "provider_name": provider, "eventid": event_id}
    if "channel" not in present:
        constants["channel"] = channel
    return ir.specialize(target.tree, constants, present.__contains__)


def needed_fields(trees: Iterable[ir.Node]) -> tuple[set[str], set[str]]:
    """Lowercased field names the trees read, and those read with their original case."""
    lower: set[str] = set()
    cased: set[str] = set()
    for t in trees:
        lower |= {ir.field_key(f) if f != "*" else f for f in ir.fields(t)}
        cased |= {ir.field_key(f) for f in ir.cased_fields(t)}
    return lower, cased
