"""Zeek conn/dns/http/ssl logs in Zeek's TSV format, as a sensor on the core switch sees them."""

from __future__ import annotations

import random
import sys
from array import array
from bisect import bisect_left
from dataclasses import dataclass, field
from math import log
from pathlib import Path
from typing import IO, Any

from spearhunt.simulate.clock import US, Clock

FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "conn": (
        ("ts", "time"),
        ("uid", "string"),
        ("id.orig_h", "addr"),
        ("id.orig_p", "port"),
        ("id.resp_h", "addr"),
        ("id.resp_p", "port"),
        ("proto", "enum"),
        ("service", "string"),
        ("duration", "interval"),
        ("orig_bytes", "count"),
        ("resp_bytes", "count"),
        ("conn_state", "string"),
        ("local_orig", "bool"),
        ("local_resp", "bool"),
        ("missed_bytes", "count"),
        ("history", "string"),
        ("orig_pkts", "count"),
        ("orig_ip_bytes", "count"),
        ("resp_pkts", "count"),
        ("resp_ip_bytes", "count"),
        ("tunnel_parents", "set[string]"),
    ),
    "dns": (
        ("ts", "time"),
        ("uid", "string"),
        ("id.orig_h", "addr"),
        ("id.orig_p", "port"),
        ("id.resp_h", "addr"),
        ("id.resp_p", "port"),
        ("proto", "enum"),
        ("trans_id", "count"),
        ("rtt", "interval"),
        ("query", "string"),
        ("qclass", "count"),
        ("qclass_name", "string"),
        ("qtype", "count"),
        ("qtype_name", "string"),
        ("rcode", "count"),
        ("rcode_name", "string"),
        ("AA", "bool"),
        ("TC", "bool"),
        ("RD", "bool"),
        ("RA", "bool"),
        ("Z", "count"),
        ("answers", "vector[string]"),
        ("TTLs", "vector[interval]"),
        ("rejected", "bool"),
    ),
    "http": (
        ("ts", "time"),
        ("uid", "string"),
        ("id.orig_h", "addr"),
        ("id.orig_p", "port"),
        ("id.resp_h", "addr"),
        ("id.resp_p", "port"),
        ("trans_depth", "count"),
        ("method", "string"),
        ("host", "string"),
        ("uri", "string"),
        ("referrer", "string"),
        ("version", "string"),
        ("user_agent", "string"),
        ("origin", "string"),
        ("request_body_len", "count"),
        ("response_body_len", "count"),
        ("status_code", "count"),
        ("status_msg", "string"),
        ("info_code", "count"),
        ("info_msg", "string"),
        ("tags", "set[enum]"),
        ("username", "string"),
        ("password", "string"),
        ("proxied", "set[string]"),
        ("orig_fuids", "vector[string]"),
        ("orig_filenames", "vector[string]"),
        ("orig_mime_types", "vector[string]"),
        ("resp_fuids", "vector[string]"),
        ("resp_filenames", "vector[string]"),
        ("resp_mime_types", "vector[string]"),
    ),
    "ssl": (
        ("ts", "time"),
        ("uid", "string"),
        ("id.orig_h", "addr"),
        ("id.orig_p", "port"),
        ("id.resp_h", "addr"),
        ("id.resp_p", "port"),
        ("version", "string"),
        ("cipher", "string"),
        ("curve", "string"),
        ("server_name", "string"),
        ("resumed", "bool"),
        ("last_alert", "string"),
        ("next_protocol", "string"),
        ("established", "bool"),
        ("ssl_history", "string"),
        ("cert_chain_fps", "vector[string]"),
        ("client_cert_chain_fps", "vector[string]"),
        ("subject", "string"),
        ("issuer", "string"),
        ("client_subject", "string"),
        ("client_issuer", "string"),
        ("sni_matches_cert", "bool"),
        ("validation_status", "string"),
    ),
}
LOGS = tuple(FIELDS)


def _rtt(rng: random.Random) -> str:
    """A DNS round-trip time of 0.4 to 40.4 ms as Zeek writes it (``0.012345``), cut from
    integer text: a format spec costs more than the rest of the line."""
    return "0." + str(1_000_400 + int(rng.random() * 40_000))[1:]


_FETCH_TABLE = 4096  # entries in each table of NetLog.fetch


def _fetch_tables(
    rng: random.Random,
) -> tuple[list[tuple[str, str]], list[str], list[tuple[str, str]]]:
    """Pre-drawn values of page loads, as the text their lines hold.

    (dns.log transaction id and round trip, round trip), conn.log durations (0.2 to 30.2 s),
    and (conn.log bytes, conn.log packets and IP bytes) of transfers whose size is
    exponential with a mean of 60 kB. Each page load draws one entry of each.
    """
    answers = []
    for _ in range(_FETCH_TABLE):
        rtt = _rtt(rng)
        answers.append((f"{int(rng.random() * 65535)}\t{rtt}", rtt))
    durations = []
    for _ in range(_FETCH_TABLE):
        digits = str(200_000 + int(rng.random() * 30_000_000)).zfill(7)
        durations.append(f"{digits[:-6]}.{digits[-6:]}")
    transfers = []
    for _ in range(_FETCH_TABLE):
        size = int(-60_000 * log(1.0 - rng.random()))
        ob, rb = 900 + size // 20, 4_000 + size
        opk, rpk = ob // 1400 + 3, rb // 1400 + 3
        transfers.append((f"\t{ob}\t{rb}", f"{opk}\t{ob + opk * 52}\t{rpk}\t{rb + rpk * 52}\t-"))
    return answers, durations, transfers


_QTYPES = {"A": 1, "AAAA": 28, "TXT": 16, "CNAME": 5, "SRV": 33, "PTR": 12}
_CIPHER = "TLS_AES_256_GCM_SHA384"


def is_internal(ip: str) -> bool:
    """RFC 1918 10/8 is the corporate network in the simulation."""
    return ip.startswith("10.")


@dataclass(slots=True, eq=False)
class DnsRoute:
    """One client's query for one name: the fixed text of its dns.log and conn.log lines, how
    long the client's DNS cache keeps the answer, and the state of that cache entry."""

    src: str
    name: str  # "<client> <query>"
    ttl: int  # microseconds
    dns_head: str  # dns.log after the source port, up to trans_id
    dns_tail: str  # dns.log after rtt
    conn_head: str  # conn.log after the source port, up to duration
    conn_tail: str  # conn.log after duration
    asked: list[int] = field(default_factory=list)  # times of lookups not yet sent or cached
    cached_until: int = 0  # when the client's cached answer expires


@dataclass(frozen=True, slots=True)
class TlsSite:
    """The fixed text of HTTPS sessions from one client address to one server."""

    src: str
    conn_head: str  # conn.log after the source port, up to the duration
    conn_flags: str  # conn.log from conn_state to history
    ssl_tail: str  # ssl.log after the source port


def _flag(ip: str) -> str:
    return "T" if ip[:3] == "10." else "F"


@dataclass(frozen=True, slots=True)
class NetRecord:
    """A reference to one malicious network record, for the truth file."""

    log: str
    uid: str
    ts: int


class NetLog:
    """Buffers Zeek lines per log; ``flush`` writes them in time order.

    Every value that only Zeek shows (uids, sizes, durations, round trips, the source port of
    a connection no endpoint event reports) is drawn from ``rng``, the sensor's own random
    stream, so the endpoint logs are the same whether or not Zeek is generated. Callers draw
    such values from ``rng`` too.

    Hosts resolve names through the Windows DNS client cache, which keeps an answer for its
    TTL: a name looked up again before then is answered from the cache, and the sensor sees
    no query (Sysmon 22 still logs it: it logs cached lookups too). The noise's lookups
    (:meth:`resolve`, :meth:`fetch`) are only asked for, and ``flush`` sends out, in time
    order, those the cache cannot answer; :meth:`dns` applies the same cache at once, for
    the campaign, which asks for each host's lookups of a name in time order.

    Every line starts with its fixed-width epoch time (:meth:`Clock.zeek`), so sorting the
    lines as text sorts them by time; no ``(ts, line)`` pair is kept per record.
    """

    __slots__ = (
        "_answers",
        "_asking",
        "_campaign_cache",
        "_conn",
        "_dns",
        "_durations",
        "_ssl",
        "_tails",
        "_transfers",
        "_uids",
        "buffers",
        "clock",
        "counts",
        "rng",
    )

    def __init__(self, clock: Clock, rng: random.Random) -> None:
        self.clock = clock
        self.rng = rng
        self._uids = UidSource(rng)
        self._tails: dict[tuple[object, ...], Any] = {}
        self._asking: list[DnsRoute] = []  # routes with lookups waiting for flush
        # When the campaign's cached answers expire, by DnsRoute.name (its lookups are sent
        # at once; the noise's keep their cache on the route, for flush).
        self._campaign_cache: dict[str, int] = {}
        self.buffers: dict[str, list[str]] = {name: [] for name in LOGS}
        self._conn, self._dns, self._ssl = (self.buffers[n] for n in ("conn", "dns", "ssl"))
        self.counts: dict[str, int] = dict.fromkeys(LOGS, 0)
        self._answers, self._durations, self._transfers = _fetch_tables(
            random.Random(rng.getrandbits(64))
        )

    def uid(self, prefix: str = "C") -> str:
        """A unique Zeek-looking id (``C`` + 16 characters; ``F`` for file ids)."""
        return prefix + self._uids()[1:]

    def port(self) -> int:
        """An ephemeral source port."""
        return 49152 + int(self.rng.random() * 16000)

    # ---- records -----------------------------------------------------------------------
    def conn(
        self,
        ts: int,
        src: str,
        dst: str,
        dport: int,
        *,
        proto: str = "tcp",
        service: str = "-",
        duration: float = 0.1,
        orig_bytes: int = 0,
        resp_bytes: int = 0,
        state: str = "SF",
        sport: int | None = None,
        uid: str | None = None,
    ) -> str:
        """One conn.log record; returns its uid."""
        uid = uid or self.uid()
        sport = sport or self.port()
        self.buffers["conn"].append(
            _conn_line(
                self.clock.zeek(ts),
                uid,
                src,
                sport,
                dst,
                dport,
                proto,
                service,
                duration,
                orig_bytes,
                resp_bytes,
                state,
            )
        )
        return uid

    def dns(
        self,
        ts: int,
        src: str,
        resolver: str,
        query: str,
        answers: list[str],
        qtype: str = "A",
        ttl: int = 300,
        rcode: str = "NOERROR",
    ) -> str | None:
        """A DNS query from ``src`` to its resolver: dns.log and its conn.log record, and
        their uid; None when ``src``'s cache still holds the answer (nothing on the wire).

        For the campaign: its lookups of a name from one host must come in time order.
        """
        route = self.route(src, resolver, query, answers, qtype, ttl, rcode)
        cache = self._campaign_cache
        if cache.get(route.name, 0) > ts:
            return None
        if route.ttl:
            cache[route.name] = ts + route.ttl
        uid = self._uids()
        self._send(ts, uid, route)
        return uid

    def resolve(self, ts: int, route: DnsRoute) -> None:
        """A lookup by the noise: sent at :meth:`flush` unless the client's cache answers it."""
        if not route.asked:
            self._asking.append(route)
        route.asked.append(ts)

    def _send(self, ts: int, uid: str, route: DnsRoute) -> None:
        """The dns.log and conn.log lines of a lookup that goes out (its transaction id and
        round trip from the tables of :func:`_fetch_tables`)."""
        rnd = self.rng.random
        answer, rtt = self._answers[int(rnd() * _FETCH_TABLE)]
        s = str(ts)
        start = f"{s[:10]}.{s[10:]}\t{uid}\t{route.src}\t{49152 + int(rnd() * 16000)}\t"
        self._dns.append(f"{start}{route.dns_head}{answer}{route.dns_tail}")
        self._conn.append(f"{start}{route.conn_head}{rtt}{route.conn_tail}")

    def _send_asked(self, until: int | None) -> None:
        """Send the noise's lookups before ``until`` that miss the cache: per client and name,
        in time order (the noise asks in batches, each in time order, not all in one)."""
        waiting = []
        pool, refill = self._uids.pool, self._uids.refill
        rnd = self.rng.random
        answers = self._answers
        dns, conn = self._dns, self._conn
        for route in self._asking:
            asked = route.asked
            asked.sort()
            cut = len(asked) if until is None else bisect_left(asked, until)
            expires, ttl = route.cached_until, route.ttl
            dns_head, dns_tail = route.dns_head, route.dns_tail
            conn_head, conn_tail = route.conn_head, route.conn_tail
            src = route.src
            for ts in asked[:cut]:
                if ts < expires:
                    continue  # answered from the client's cache
                expires = ts + ttl
                # As _send, inline: this runs for every page load that goes out.
                uid = pool.pop() if pool else refill()
                answer, rtt = answers[int(rnd() * _FETCH_TABLE)]
                s = str(ts)
                start = f"{s[:10]}.{s[10:]}\t{uid}\t{src}\t{49152 + int(rnd() * 16000)}\t"
                dns.append(f"{start}{dns_head}{answer}{dns_tail}")
                conn.append(f"{start}{conn_head}{rtt}{conn_tail}")
            route.cached_until = expires
            del asked[:cut]
            if asked:
                waiting.append(route)
        self._asking = waiting

    def route(
        self,
        src: str,
        resolver: str,
        query: str,
        answers: list[str],
        qtype: str = "A",
        ttl: int = 300,
        rcode: str = "NOERROR",
    ) -> DnsRoute:
        """The route of ``src``'s queries for ``query`` (made once, then shared)."""
        key = (src, query, ",".join(answers), qtype, ttl, rcode, resolver)
        route: DnsRoute | None = self._tails.get(key)
        if route is None:
            route = self.dns_route(src, resolver, query, answers, qtype, ttl, rcode)
            if len(self._tails) < 50_000:  # tunnel queries are unique: do not grow forever
                self._tails[key] = route
        return route

    @staticmethod
    def dns_route(
        src: str,
        resolver: str,
        query: str,
        answers: list[str],
        qtype: str = "A",
        ttl: int = 300,
        rcode: str = "NOERROR",
    ) -> DnsRoute:
        """The fixed text of the dns.log and conn.log lines of one query from ``src``."""
        if answers:
            ans = ",".join(answers)
            ttls = ",".join([f"{ttl}.000000"] * len(answers))
        else:
            ans = ttls = "-"
        line = _conn_line(
            "@",
            "@",
            src,
            0,
            resolver,
            53,
            "udp",
            "dns",
            0.0,
            len(query) + 17,
            (len(query) + 33) * (len(answers) or 1),
            "SF",
        )
        head, tail = line.split("\t0.000000\t", 1)
        return DnsRoute(
            src,
            f"{src} {query}",
            ttl * US,
            f"{resolver}\t53\tudp\t",
            f"\t{query}\t1\tC_INTERNET\t{_QTYPES.get(qtype, 1)}\t{qtype}\t"
            f"{0 if rcode == 'NOERROR' else 3}\t{rcode}\tF\tF\tT\tT\t0\t{ans}\t{ttls}\tF",
            head.split("\t", 4)[4] + "\t",
            "\t" + tail,
        )

    def tls(
        self,
        ts: int,
        src: str,
        dst: str,
        server_name: str,
        *,
        orig_bytes: int,
        resp_bytes: int,
        duration: float,
        port: int = 443,
        subject: str | None = None,
        issuer: str = "CN=R11,O=Let's Encrypt,C=US",
        sport: int | None = None,
    ) -> str:
        """An HTTPS session: conn.log and ssl.log sharing one uid (from ``sport``, the port a
        Sysmon 3 of the same connection shows, or a fresh one)."""
        uid = self._uids()
        if sport is None:
            sport = 49152 + int(self.rng.random() * 16000)
        key = (src, dst, port, server_name, subject, issuer)
        site = self._tails.get(key)
        if site is None:
            site = self.tls_site(src, dst, server_name, port=port, subject=subject, issuer=issuer)
            if len(self._tails) < 50_000:
                self._tails[key] = site
        self._tls_lines(ts, uid, sport, site, orig_bytes, resp_bytes, int(duration * US + 0.5))
        return uid

    def fetch(self, ts: int, src: str, route: DnsRoute, site: TlsSite, sport: int) -> None:
        """A name looked up along ``route`` at ``ts`` (see :meth:`resolve`), then an HTTPS
        session to ``site`` from ``sport`` 20 ms later: conn.log and ssl.log.

        This is the bulk of the network noise (every page load), so it writes its lines in
        one call, and its sizes and durations (and the lookup's transaction id and round trip)
        come from tables drawn once per simulation (see :func:`_fetch_tables`) rather than
        formatted per record.
        """
        asked = route.asked
        if not asked:
            self._asking.append(route)
        asked.append(ts)
        rnd = self.rng.random
        pool = self._uids.pool
        uid = pool.pop() if pool else self._uids.refill()
        duration = self._durations[int(rnd() * _FETCH_TABLE)]
        sizes, packets = self._transfers[int(rnd() * _FETCH_TABLE)]
        s = str(ts + 20_000)
        self._conn.append(
            f"{s[:10]}.{s[10:]}\t{uid}\t{src}\t{sport}{site.conn_head}{duration}"
            f"{sizes}{site.conn_flags}{packets}"
        )
        s = str(ts + 22_000)
        self._ssl.append(f"{s[:10]}.{s[10:]}\t{uid}\t{src}\t{sport}{site.ssl_tail}")

    @staticmethod
    def tls_site(
        src: str,
        dst: str,
        server_name: str,
        *,
        port: int = 443,
        subject: str | None = None,
        issuer: str = "CN=R11,O=Let's Encrypt,C=US",
    ) -> TlsSite:
        """The fixed text of HTTPS sessions from ``src`` to one server."""
        return TlsSite(
            src,
            f"\t{dst}\t{port}\ttcp\tssl\t",
            f"\tSF\t{_flag(src)}\t{_flag(dst)}\t0\tShADadFf\t",
            f"\t{dst}\t{port}\tTLSv13\t{_CIPHER}\tx25519\t{server_name}\tF\t-\th2\tT\t"
            f"CsiI\t-\t-\t{subject or 'CN=' + server_name}\t{issuer}\t-\t-\tT\tok",
        )

    def _tls_lines(
        self, ts: int, uid: str, sport: int, site: TlsSite, ob: int, rb: int, duration_us: int
    ) -> None:
        opk = ob // 1400 + 3
        rpk = rb // 1400 + 3
        d = str(duration_us).zfill(7)
        s = str(ts)
        self._conn.append(
            f"{s[:10]}.{s[10:]}\t{uid}\t{site.src}\t{sport}{site.conn_head}{d[:-6]}.{d[-6:]}\t"
            f"{ob}\t{rb}{site.conn_flags}{opk}\t{ob + opk * 52}\t{rpk}\t{rb + rpk * 52}\t-"
        )
        s = str(ts + 2_000)
        self._ssl.append(f"{s[:10]}.{s[10:]}\t{uid}\t{site.src}\t{sport}{site.ssl_tail}")

    def http(
        self,
        ts: int,
        src: str,
        dst: str,
        host: str,
        uri: str,
        *,
        method: str = "GET",
        user_agent: str,
        request_len: int = 0,
        response_len: int = 0,
        status: int = 200,
        mime: str = "text/html",
        port: int = 80,
    ) -> str:
        """A plain HTTP request: conn.log and http.log sharing one uid."""
        uid = self.conn(
            ts,
            src,
            dst,
            port,
            service="http",
            duration=0.05 + response_len / 5e6,
            orig_bytes=request_len + 180 + len(uri),
            resp_bytes=response_len + 240,
        )
        status_msg = {200: "OK", 204: "No Content", 304: "Not Modified", 404: "Not Found"}.get(
            status, "OK"
        )
        fuid = "F" + self._uids()[1:] if response_len else "-"
        line = (
            f"{self.clock.zeek(ts + 1_000)}\t{uid}\t{src}\t-\t{dst}\t{port}\t1\t{method}\t"
            f"{host}\t{uri}\t-\t1.1\t{user_agent}\t-\t{request_len}\t{response_len}\t"
            f"{status}\t{status_msg}\t-\t-\t(empty)\t-\t-\t-\t-\t-\t-\t{fuid}\t-\t"
            f"{mime if response_len else '-'}"
        )
        self.buffers["http"].append(line)
        return uid

    # ---- output ------------------------------------------------------------------------
    def flush(self, files: dict[str, IO[str]], until: int | None = None) -> None:
        """Write buffered records up to ``until`` (all when None) in time order."""
        self._send_asked(until)
        cut_at = None if until is None else self.clock.zeek(until)
        for name, buf in self.buffers.items():
            buf.sort()  # by time, then by the rest of the line: deterministic on ties
            if cut_at is None:
                ready, rest = buf, []
            else:
                cut = bisect_left(buf, cut_at)
                ready, rest = buf[:cut], buf[cut:]
            write = files[name].write
            # In slices: a day's text of a log is tens of MB, fresh memory each day, where a
            # slice's text and bytes reuse the same few.
            for i in range(0, len(ready), 2048):
                chunk = ready[i : i + 2048]
                chunk.append("")  # the last newline, without copying the joined text again
                write("\n".join(chunk))
            self.counts[name] += len(ready)
            buf[:] = rest  # in place: the record methods hold the lists


_UID_CHARS = str.maketrans("0123456789abcdef", "q7HvW2kXd9LmRt4Z")
_GOLDEN = 0x9E3779B97F4A7C15
_MASK = (1 << 64) - 1


class UidSource:
    """Unique uids without a random draw per record: a counter scrambled by a bijection.

    The uids are made in batches: one ``hex`` and one ``translate`` over a batch cost less
    than a format and a translate per uid. The batches hand out the same uids, in the same
    order, as scrambling one counter value at a time would.
    """

    __slots__ = ("_n", "_salt", "pool")

    BATCH = 4096

    def __init__(self, rng: random.Random) -> None:
        self._salt = rng.getrandbits(64)
        self._n = rng.getrandbits(20)
        self.pool: list[str] = []  # the next uids, last one first (``pool.pop()`` is next)

    def __call__(self) -> str:
        return self.pool.pop() if self.pool else self.refill()

    def refill(self) -> str:
        """Make the next batch into (the empty) ``pool`` and hand out its first uid."""
        n, salt = self._n, self._salt
        words = array("Q", [((i * _GOLDEN) ^ salt) & _MASK for i in range(n + self.BATCH, n, -1)])
        self._n = n + self.BATCH
        if sys.byteorder == "little":
            words.byteswap()  # big-endian bytes: the hex reads like format(x, "016x")
        text = words.tobytes().hex(" ", 8).translate(_UID_CHARS)
        # In place: hot loops hold the list.
        self.pool[:] = ("C" + text.replace(" ", " C")).split(" ")
        return self.pool.pop()


def _conn_line(
    stamp: str,
    uid: str,
    src: str,
    sport: int,
    dst: str,
    dport: int,
    proto: str,
    service: str,
    duration: float,
    ob: int,
    rb: int,
    state: str,
) -> str:
    tcp = proto == "tcp"
    opk = ob // 1400 + 3
    rpk = rb // 1400 + 3
    hdr = 52 if tcp else 28
    history = ("ShADadFf" if state == "SF" else "S") if tcp else "Dd"
    return (
        f"{stamp}\t{uid}\t{src}\t{sport}\t{dst}\t{dport}\t{proto}\t{service}\t"
        f"{duration:.6f}\t{ob}\t{rb}\t{state}\t{'T' if src[:3] == '10.' else 'F'}\t"
        f"{'T' if dst[:3] == '10.' else 'F'}\t0\t{history}\t{opk}\t{ob + opk * hdr}\t"
        f"{rpk}\t{rb + rpk * hdr}\t-"
    )


def open_logs(folder: Path, clock: Clock) -> dict[str, IO[str]]:
    """Open the four logs and write their headers."""
    opened = clock.datetime(clock.t0).strftime("%Y-%m-%d-%H-%M-%S")
    files: dict[str, IO[str]] = {}
    for name, fields in FIELDS.items():
        fh = (folder / f"{name}.log").open("w", encoding="utf-8", newline="\n")
        fh.write(
            "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n"
            f"#unset_field\t-\n#path\t{name}\n#open\t{opened}\n"
        )
        fh.write("#fields\t" + "\t".join(f for f, _ in fields) + "\n")
        fh.write("#types\t" + "\t".join(t for _, t in fields) + "\n")
        files[name] = fh
    return files


def close_logs(files: dict[str, IO[str]], clock: Clock) -> None:
    """Write the ``#close`` trailer and close the files."""
    closed = clock.datetime(clock.day_start(clock.days)).strftime("%Y-%m-%d-%H-%M-%S")
    for fh in files.values():
        fh.write(f"#close\t{closed}\n")
        fh.close()
