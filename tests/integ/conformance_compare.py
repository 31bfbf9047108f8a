#!/usr/bin/env python3
"""Compares one tallyd flush with the reference statsd's output for the
conformance corpus (tests/data/conformance/statsd/, see its README), and the
admin interface's views with expected_admin.txt. Prints TAP-like lines
("ok - ...", "not ok - ...", "#   detail") and exits 1 if any check failed.

  conformance_compare.py flush MODE EXPECTED.norm ACTUAL_LINES
      MODE: legacy | nonlegacy | legacy_idle | deleteidle_idle
      ACTUAL_LINES: the lines of one flush ("name value ts"), as received.
  conformance_compare.py admin EXPECTED_ADMIN.txt DIR
      DIR holds the replies to `counters`, `timers`, `gauges`, `stats`,
      `health` and `bogus` (files named after the command).
  conformance_compare.py inspect < REPLY
      prints "key<TAB>value" for each entry of a util.inspect-style reply.

Rules: every line of the reference's file must be matched by name, with a
value equal within relative 1e-9 (`V`, a wall-clock value, matches any
number), or be listed in DIFFERENCES below, which says what tallyd sends
instead and why. tallyd's own self-stats (tallyd.*) are the only extra lines
allowed. Run with the settings of the README: 2 s flush, percentiles
90,-10,99.9, histogram render:0.01,0.1,1,10,inf;histo:50,100,150,200, and for
nonlegacy the suffix `sfx`.
"""
import math
import re
import sys

INTERVAL_S = 2.0
PERCENTILES = [90, -10, 99.9]
HISTOGRAMS = [("render", [0.01, 0.1, 1, 10, "inf"]), ("histo", [50, 100, 150, 200])]
SUFFIX = "sfx"

# ---------------------------------------------------------------------------
# The reference's timer arithmetic (statsd lib/process_metrics.js), used to
# spell out the lines of the series the table below turns into timers. It is
# checked against the reference's own timers first (self_check), so a slip
# here cannot pass silently.
# ---------------------------------------------------------------------------


def js_str(x):
    """JavaScript's String(number) for the values used here."""
    if x == "inf":
        return "inf"
    if float(x) == int(x):
        return str(int(x))
    return repr(float(x))


def timer_stats(values, count):
    if not values:
        return {"count": count, "count_ps": count / INTERVAL_S}
    v = sorted(values)
    n = len(v)
    cum, cum_sq = [v[0]], [v[0] * v[0]]
    for i in range(1, n):
        cum.append(v[i] + cum[i - 1])
        cum_sq.append(v[i] * v[i] + cum_sq[i - 1])
    out = {}
    s, sq, mean, boundary = v[0], v[0] * v[0], v[0], v[-1]
    for pct in PERCENTILES:
        k = n
        if n > 1:
            k = math.floor(abs(pct) / 100 * n + 0.5)  # Math.round
            if k == 0:
                continue
            if pct > 0:
                boundary, s, sq = v[k - 1], cum[k - 1], cum_sq[k - 1]
            else:
                boundary = v[n - k]
                s = cum[n - 1] - cum[n - k - 1]
                sq = cum_sq[n - 1] - cum_sq[n - k - 1]
            mean = s / k
        label = js_str(pct).replace(".", "_", 1).replace("-", "top", 1)
        out["count_" + label] = k
        out["mean_" + label] = mean
        out[("upper_" if pct > 0 else "lower_") + label] = boundary
        out["sum_" + label] = s
        out["sum_squares_" + label] = sq
    s, sq = cum[-1], cum_sq[-1]
    mean = s / n
    diffs = sum((x - mean) * (x - mean) for x in v)
    mid = n // 2
    out.update({
        "std": math.sqrt(diffs / n), "upper": v[-1], "lower": v[0], "count": count,
        "count_ps": count / INTERVAL_S, "sum": s, "sum_squares": sq, "mean": mean,
        "median": v[mid] if n % 2 else (v[mid - 1] + v[mid]) / 2,
    })
    return out


def timer_bins(key, values):
    if not values:
        return {}  # an interval without values sends only count and count_ps
    for metric, bins in HISTOGRAMS:
        if metric in key:
            out, v, i = {}, sorted(values), 0
            for b in bins:
                freq = 0
                while i < len(v) and (b == "inf" or v[i] < b):
                    freq += 1
                    i += 1
                out["histogram." + ("bin_" + js_str(b)).replace(".", "_", 1)] = freq
            return out
    return {}


# ---------------------------------------------------------------------------
# Series and their Graphite names in each mode.
# ---------------------------------------------------------------------------


class Series:
    """kind: c (counter: value = count), ms (timer: value = (values, count)),
    g (gauge: value), s (set: value = distinct members)."""

    def __init__(self, kind, key, value):
        self.kind, self.key, self.value = kind, key, value


def C(key, count):
    return Series("c", key, count)


def MS(key, values, count=None):
    return Series("ms", key, (values, len(values) if count is None else count))


def S(key, members):
    return Series("s", key, members)


def split_key(key):
    i = key.find(";")
    return (key, "") if i < 0 else (key[:i], key[i:])


def gname(mode, what, name, tags, stat=None):
    legacy = mode != "nonlegacy"
    sfx = "" if legacy else "." + SUFFIX
    if what == "rate":
        return ("stats.%s%s" % (name, tags)) if legacy else \
            "stats.counters.%s.rate%s%s" % (name, sfx, tags)
    if what == "count":
        return ("stats_counts.%s%s" % (name, tags)) if legacy else \
            "stats.counters.%s.count%s%s" % (name, sfx, tags)
    if what == "timer":
        return "stats.timers.%s.%s%s%s" % (name, stat, sfx, tags)
    if what == "gauge":
        return "stats.gauges.%s%s%s" % (name, sfx, tags)
    if what == "set":
        return "stats.sets.%s.count%s%s" % (name, sfx, tags)
    raise ValueError(what)


def series_lines(s, mode):
    """{name: value} of what a series sends in a flush of this mode."""
    if mode == "deleteidle_idle":
        return {}  # idle series are deleted: nothing is sent
    busy = mode in ("legacy", "nonlegacy")
    name, tags = split_key(s.key)
    if s.kind == "c":
        n = s.value if busy else 0
        return {gname(mode, "rate", name, tags): n / INTERVAL_S,
                gname(mode, "count", name, tags): n}
    if s.kind == "ms":
        values, count = s.value if busy else ([], 0)
        stats = timer_stats(values, count)
        stats.update(timer_bins(s.key, values))
        return {gname(mode, "timer", name, tags, k): v for k, v in stats.items()}
    if s.kind == "g":
        return {gname(mode, "gauge", name, tags): s.value}
    if s.kind == "s":
        return {gname(mode, "set", name, tags): s.value if busy else 0}
    raise ValueError(s.kind)


# ---------------------------------------------------------------------------
# Allowed differences (tests/data/conformance/README.md, DESIGN.md §4). Each
# entry: the reference's series (with the value it sent) that tallyd does not
# send, the series tallyd sends instead, and why. The corpus line is quoted.
# ---------------------------------------------------------------------------

INF = float("inf")

DIFFERENCES = [
    dict(line="rate.sci:1|c|@1e-1",
         ref=[C("rate.sci", 1)], ours=[C("rate.sci", 10)],
         why="the whole rate is a number (0.1, weight 10); the reference read only its "
             "leading [0-9.] (rate 1). Listed in docs/protocol.md"),
    dict(line="inf.counter:Infinity|c",
         ref=[C("inf.counter", INF)], ours=[],
         why="non-finite values are bad lines (the reference counted Infinity)"),
    dict(line="rate.zero:1|c|@0",
         ref=[C("rate.zero", INF)], ours=[C("rate.zero", 1)],
         why="a rate that is not positive and finite keeps the sample at rate 1 "
             "(counted in tallyd.invalid_sample_rate), never an infinite count"),
    dict(line="unknown.type:5|x",
         ref=[C("unknown.type", 5)], ours=[],
         why="unknown types are bad lines (the reference made them counters)"),
    dict(line="dd.histogram:5|h, dd.histogram:7|h",
         ref=[C("dd.histogram", 12)], ours=[MS("dd.histogram", [5, 7])],
         why="|h is a DogStatsD histogram, aggregated like ms (sent under "
             "stats.timers., and its name matches the `histo` bins)"),
    dict(line="dd.distribution:7|d",
         ref=[C("dd.distribution", 7)], ours=[MS("dd.distribution", [7])],
         why="|d is a DogStatsD distribution, aggregated like ms"),
    dict(line="emptytype:1|",
         ref=[C("emptytype", 1)], ours=[],
         why="an empty type is a bad line (the reference made it a counter)"),
    dict(line="upper.type:5|MS",
         ref=[C("upper.type", 5)], ours=[],
         why="upper-case types are bad lines (the reference made it a counter)"),
    dict(line="dd.tagged:1|c|#env:prod,role:web (x2, values 1 and 2), "
              "dd.tagged:1|c|#role:web,env:prod",
         ref=[C("dd.tagged;env=prod;role=web", 3), C("dd.tagged;role=web;env=prod", 1)],
         ours=[C("dd.tagged;env=prod;role=web", 4)],
         why="tags are sorted, so both tag orders are one series"),
    dict(line="dd.tag.before.rate:1|c|#env:prod|@0.5",
         ref=[C("dd.tag.before.rate;env=prod0.5", 1)],
         ours=[C("dd.tag.before.rate;env=prod", 2)],
         why="DogStatsD fields come in any order: |@0.5 after the tags is the rate, "
             "not part of a tag"),
    dict(line="dd.containerid:1|c|#a:b|c:abc123",
         ref=[C("dd.containerid;a=bcabc123", 1)], ours=[C("dd.containerid;a=b", 1)],
         why="|c:<container> is a DogStatsD field, not part of the last tag"),
    dict(line="ws.timer:-5| ms",
         ref=[MS("ws.timer", [-5])], ours=[],
         why="a negative timer value is a bad line however the type is spaced"),
    dict(line="badrate:1|c|0.1",
         ref=[], ours=[C("badrate", 1)],
         why="unknown DogStatsD fields are ignored, so the line counts 1 "
             "(the reference rejected it)"),
    dict(line="negrate:1|c|@-0.1",
         ref=[], ours=[C("negrate", 1)],
         why="a negative rate keeps the sample at rate 1 (counted in "
             "tallyd.invalid_sample_rate); the reference rejected the line"),
    dict(line="dd.timestamp:1|c|T1700000000",
         ref=[], ours=[C("dd.timestamp", 1)],
         why="|T<unix ts> is a DogStatsD field; the sample goes into the current "
             "interval (the reference rejected the line)"),
    dict(line="crlf.c:1|c\\r\\ncrlf.ms:5|ms\\r\\ncrlf.g:5|g\\r\\ncrlf.s:x|s\\r\\n",
         ref=[], ours=[S("crlf.s", 1)],
         why="\\r\\n line ends are accepted (DESIGN §4); the reference validated "
             "the type `s\\r` before trimming it and dropped this set line as bad"),
    dict(line="_e{5,4}:title|text, _sc|svc.check|0",
         ref=[], ours=[],
         why="DogStatsD events and service checks are accepted, not bad lines "
             "(they go to Redis, not Graphite)"),
]

# The reference's own lines whose values follow from the table above.
#   bad_lines_seen: the reference's 13 are novalue, notype:1, badval:abc|c,
#   nov:|c, badrate, negrate, alpharate, neg.timer, bad.gauge, dd.timestamp,
#   _e{...}, _sc|..., crlf.s:x|s\r. tallyd drops badrate, negrate,
#   dd.timestamp, _e, _sc and crlf.s from that list and adds inf.counter,
#   unknown.type, emptytype, upper.type and ws.timer: 12.
#   numStats: 49 counters - 7 + 3 = 45, 12 timers - 1 + 2 = 13, 12 gauges
#   (with timestamp_lag), 5 sets + 1 = 6: 76.
BUSY_BAD_LINES = 12
NUM_STATS = 76


def internal_overrides(mode):
    legacy = mode != "nonlegacy"
    sfx = "" if legacy else "." + SUFFIX
    out = {}
    if mode in ("legacy", "nonlegacy"):
        out[gname(mode, "rate", "statsd.bad_lines_seen", "")] = BUSY_BAD_LINES / INTERVAL_S
        out[gname(mode, "count", "statsd.bad_lines_seen", "")] = BUSY_BAD_LINES
    if mode in ("legacy", "nonlegacy", "legacy_idle"):
        out[("statsd.numStats" if legacy else "stats.statsd.numStats" + sfx)] = NUM_STATS
    return out


# Extra self-stats lines (not in the reference, not in numStats).
def self_stat(mode, name):
    if mode == "nonlegacy":
        m = re.match(r"^stats\.counters\.tallyd\.([a-z0-9_]+)\.(rate|count)\.%s$" % SUFFIX, name)
        if m:
            return ("c_" + m.group(2), m.group(1))
        m = re.match(r"^stats\.gauges\.tallyd\.([a-z0-9_]+)\.%s$" % SUFFIX, name)
        return ("g", m.group(1)) if m else None
    for pat, kind in ((r"^stats\.tallyd\.([a-z0-9_]+)$", "c_rate"),
                      (r"^stats_counts\.tallyd\.([a-z0-9_]+)$", "c_count"),
                      (r"^stats\.gauges\.tallyd\.([a-z0-9_]+)$", "g")):
        m = re.match(pat, name)
        if m:
            return (kind, m.group(1))
    return None


# In the corpus flush: self-stats whose value the corpus fixes.
BUSY_SELF_COUNTS = {
    "invalid_sample_rate": 2,   # rate.zero @0, negrate @-0.1
    "events_received": 1,       # _e{5,4}:title|text
    "checks_received": 1,       # _sc|svc.check|0
    "truncated_datagrams": 0,
    "series_dropped": 0,
    "kernel_drops": 0,
    "stream_errors": 0,
    "tcp_connections": 0,
}

# ---------------------------------------------------------------------------

FAILS = 0


def ok(desc):
    print("ok - " + desc)


def not_ok(desc, details=()):
    global FAILS
    FAILS += 1
    print("not ok - " + desc)
    details = list(details)
    for d in details[:60]:
        print("#   " + d)
    if len(details) > 60:
        print("#   ... and %d more" % (len(details) - 60))


def check(cond, desc, details=()):
    if cond:
        ok(desc)
    else:
        not_ok(desc, details)
    return cond


def num(s):
    try:
        return float(s)
    except ValueError:
        return None


def same(expected, actual):
    if expected == "V":
        return actual is not None and math.isfinite(actual)
    if actual is None:
        return False
    if math.isnan(expected) or math.isnan(actual):
        return math.isnan(expected) and math.isnan(actual)
    if math.isinf(expected) or math.isinf(actual):
        return expected == actual
    return math.isclose(expected, actual, rel_tol=1e-9, abs_tol=1e-12)


def load_norm(path):
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            name, value, ts = line.rsplit(" ", 2)
            assert ts == "TS", line
            out[name] = value if value == "V" else float(value)
    return out


def load_flush(path):
    out, dups, stamps = {}, [], set()
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            parts = line.rsplit(" ", 2)
            if len(parts) != 3:
                dups.append("malformed line: %r" % line)
                continue
            name, value, ts = parts
            stamps.add(ts)
            if name in out:
                dups.append("sent twice: %s" % name)
            out[name] = num(value)
    return out, dups, stamps


def fmt(v):
    return v if isinstance(v, str) else repr(v)


def self_check():
    """The timer arithmetic above reproduces the reference's own timers."""
    expected = load_norm(NORM_FOR_SELF_CHECK)
    cases = [MS("glork", [320, 100, 200], 12), MS("t10", list(range(1, 11))),
             MS("render.time", [0.005, 0.05, 0.5, 5, 50, 10]),
             MS("histo.lat", [10, 60, 199, 200, 300]), MS("multi", [30])]
    bad = []
    for s in cases:
        got = series_lines(s, "legacy")
        have = {k: v for k, v in expected.items()
                if k.startswith("stats.timers.%s." % s.key)}
        if set(got) != set(have):
            bad.append("%s: names differ: %s" % (s.key, sorted(set(got) ^ set(have))))
        bad += ["%s: %s %r != %r" % (s.key, k, got[k], have[k])
                for k in got if k in have and not same(have[k], got[k])]
    return check(not bad, "compare tool: its timer arithmetic reproduces the reference's "
                 "timers (glork, t10, render.time, histo.lat, multi)", bad)


NORM_FOR_SELF_CHECK = None


def compare_flush(mode, expected_path, actual_path):
    expected = load_norm(expected_path)
    actual, problems, stamps = load_flush(actual_path)
    check(len(stamps) == 1, "%s: the flush's lines share one timestamp" % mode,
          ["timestamps: %s" % sorted(stamps)])
    check(not problems, "%s: every line is `name value ts`, each name once" % mode, problems)

    # Apply the table to the reference's lines.
    stale = []
    for d in DIFFERENCES:
        for s in d["ref"]:
            for name, value in series_lines(s, mode).items():
                if name not in expected:
                    stale.append("%s: reference line %s not in %s" % (d["line"], name,
                                                                       expected_path))
                elif not same(value, expected[name]) and expected[name] != "V":
                    stale.append("%s: reference sent %s %s, table says %s" % (
                        d["line"], name, fmt(expected[name]), fmt(value)))
                else:
                    del expected[name]
        for s in d["ours"]:
            for name, value in series_lines(s, mode).items():
                expected[name] = value
    for name, value in internal_overrides(mode).items():
        if name not in expected:
            stale.append("internal line %s not in %s" % (name, expected_path))
        expected[name] = value
    check(not stale, "%s: every entry of the differences table names real reference lines"
          % mode, stale)

    # tallyd's own self-stats are the only extra lines.
    selfs = {}
    for name in list(actual):
        kind = self_stat(mode, name)
        if kind and name not in expected:
            selfs[kind] = actual.pop(name)

    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    check(not missing, "%s: every reference line (or its listed replacement) is sent: %d lines"
          % (mode, len(expected)), ["missing: %s (expected %s)" % (n, fmt(expected[n]))
                                    for n in missing])
    check(not extra, "%s: no line beyond the reference's and tallyd.* self-stats" % mode,
          ["unexpected: %s %s" % (n, fmt(actual[n])) for n in extra])
    wrong = ["%s: expected %s, got %s" % (n, fmt(expected[n]), fmt(actual[n]))
             for n in sorted(set(expected) & set(actual)) if not same(expected[n], actual[n])]
    check(not wrong, "%s: every value equal within relative 1e-9" % mode, wrong)

    # Self-stats: present, consistent, and what the corpus implies.
    counters = {n for (k, n) in selfs if k.startswith("c_")}
    gauges = {n for (k, n) in selfs if k == "g"}
    check(counters and gauges, "%s: tallyd self-stats sent (%d counters, %d gauges)"
          % (mode, len(counters), len(gauges)))
    bad = []
    for n in sorted(counters):
        r, c = selfs.get(("c_rate", n)), selfs.get(("c_count", n))
        if r is None or c is None:
            bad.append("tallyd.%s: rate and count not both sent" % n)
        elif not same(c / INTERVAL_S, r):
            bad.append("tallyd.%s: rate %s != count %s / %g s" % (n, r, c, INTERVAL_S))
    check(not bad, "%s: every self-stat counter has rate = count / interval" % mode, bad)
    if mode in ("legacy", "nonlegacy"):
        bad = ["tallyd.%s: expected %s, got %s" % (n, v, selfs.get(("c_count", n)))
               for n, v in BUSY_SELF_COUNTS.items() if selfs.get(("c_count", n)) != v]
        check(not bad, "%s: self-stats of the corpus flush (invalid rates 2, events 1, "
              "checks 1, nothing truncated or dropped)" % mode, bad)
        series = selfs.get(("g", "series"))
        check(series == NUM_STATS, "%s: tallyd.series gauge equals numStats (%d)"
              % (mode, NUM_STATS), ["got %s" % series])


# ---------------------------------------------------------------------------
# util.inspect replies of the admin interface
# ---------------------------------------------------------------------------


def parse_inspect(text):
    s = text.strip()
    if not (s.startswith("{") and s.endswith("}")):
        raise ValueError("not an object: %r" % text[:80])
    i, n, out = 1, len(s) - 1, {}

    def ws(i):
        while i < n and s[i] in " \t\r\n":
            i += 1
        return i

    while True:
        i = ws(i)
        if i >= n:
            break
        if s[i] in "'\"":
            q, i, key = s[i], i + 1, ""
            while s[i] != q:
                if s[i] == "\\":
                    i += 1
                key += s[i]
                i += 1
            i += 1
        else:
            j = i
            while s[i] not in ":":
                i += 1
            key = s[j:i].strip()
        i = ws(i)
        if s[i] != ":":
            raise ValueError("expected ':' at %d: %r" % (i, s[i:i + 20]))
        i = ws(i + 1)
        if s[i] == "[":
            j = s.index("]", i)
            inner = s[i + 1:j].strip()
            value = [float(x) for x in inner.split(",")] if inner else []
            i = j + 1
        else:
            j = i
            while i < n and s[i] not in ",\n":
                i += 1
            value = float(s[j:i].strip())
        if key in out:
            raise ValueError("key twice: %r" % key)
        out[key] = value
        i = ws(i)
        if i < n and s[i] == ",":
            i += 1
    return out


def admin_sections(path):
    """expected_admin.txt: '> cmd' then the reply."""
    out, cmd = {}, None
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("> "):
                cmd = line[2:].strip()
                out[cmd] = ""
            elif cmd is not None:
                out[cmd] += line
    return out


def body(reply):
    """The object part of a `counters`-style reply, without END."""
    lines = reply.rstrip("\n").split("\n")
    while lines and lines[-1] == "":
        lines.pop()
    if not lines or lines[-1] != "END":
        raise ValueError("reply does not end with END: %r" % reply[-80:])
    return "\n".join(lines[:-1])


def compare_admin(expected_path, d):
    ref = admin_sections(expected_path)

    def reply(cmd):
        with open("%s/%s" % (d, cmd), encoding="utf-8", errors="replace") as f:
            return f.read()

    views = {"counters": "c", "timers": "ms", "gauges": "g"}
    for cmd, kind in views.items():
        try:
            exp = parse_inspect(body(ref[cmd]))
            got = parse_inspect(body(reply(cmd)))
        except (ValueError, IndexError, KeyError) as e:
            not_ok("admin %s: reply parses as the reference's util.inspect object" % cmd,
                   [str(e)])
            continue
        for dd in DIFFERENCES:
            for s in dd["ref"]:
                if s.kind == kind:
                    exp.pop(s.key, None)
            for s in dd["ours"]:
                if s.kind == kind:
                    exp[s.key] = [] if kind == "ms" else 0
        lag = "statsd.timestamp_lag"
        if lag in exp and lag in got:  # wall-clock dependent, like V in .norm
            got[lag] = exp[lag]
        missing = sorted(set(exp) - set(got))
        extra = sorted(set(got) - set(exp))
        wrong = ["%r: expected %r, got %r" % (k, exp[k], got[k])
                 for k in sorted(set(exp) & set(got)) if exp[k] != got[k]]
        check(not missing and not extra and not wrong,
              "admin %s after the corpus flush: %d entries as the reference (with the "
              "listed differences)" % (cmd, len(exp)),
              ["missing: %r" % k for k in missing] + ["extra: %r" % k for k in extra] + wrong)

    stats = reply("stats")
    check(re.search(r"^uptime: \d+$", stats, re.M) is not None
          and re.search(r"^messages\.bad_lines_seen: %d$" % BUSY_BAD_LINES, stats, re.M)
          and re.search(r"^messages\.last_msg_seen: \d+$", stats, re.M)
          and stats.rstrip("\n").endswith("END"),
          "admin stats: uptime, messages.last_msg_seen, messages.bad_lines_seen: %d, END"
          % BUSY_BAD_LINES, stats.split("\n"))
    check(reply("health") == ref["health"], "admin health: %r" % ref["health"],
          ["got %r" % reply("health")])
    check(reply("bogus") == ref["bogus"], "admin unknown command: %r" % ref["bogus"],
          ["got %r" % reply("bogus")])


def main():
    global NORM_FOR_SELF_CHECK
    if len(sys.argv) >= 2 and sys.argv[1] == "inspect":
        text = sys.stdin.read()
        try:
            for k, v in parse_inspect(body(text) if "END" in text else text).items():
                print("%s\t%s" % (k, v))
        except ValueError as e:
            sys.stderr.write("inspect: %s\n" % e)
            return 1
        return 0
    if len(sys.argv) == 5 and sys.argv[1] == "flush":
        mode, exp, act = sys.argv[2:5]
        if mode not in ("legacy", "nonlegacy", "legacy_idle", "deleteidle_idle"):
            sys.exit(__doc__)
        NORM_FOR_SELF_CHECK = exp.rsplit("/", 1)[0] + "/expected_legacy.norm"
        self_check()
        compare_flush(mode, exp, act)
    elif len(sys.argv) == 4 and sys.argv[1] == "admin":
        compare_admin(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
