#!/usr/bin/env python3
"""log-calls.py: the daemon's log calls keep to logfmt, read from the source.

Every log_debug/info/warn/error/msg/limited call of the folders given:
  * its fields argument is a string literal of key=CONVERSION pairs
    separated by single spaces (keys of A-Z a-z 0-9 _ .);
  * every %s value goes through log_q() (bare when logfmt allows it,
    quoted and escaped otherwise), at most 8 of them in one call (the
    size of log_q's ring);
  * a line about a task (task=) also says which attempt (attempt=).
Prints one line per offence ("file:line: what") and a TAP line.
"""
import os
import re
import sys

CALL = re.compile(r'(?<![A-Za-z0-9_])log_(debug|info|warn|error|msg|limited)\s*\(')
PRI = {"PRId64": "lld", "PRIu64": "llu", "PRId32": "d", "PRIu32": "u", "PRIx64": "llx"}
CONV = re.compile(r'%[-+ #0]*(\d+|\*)?(?:\.(\d+|\*))?(hh|h|ll|l|z|j|t)?([diouxXsfgcp%])')
KEY = re.compile(r'^[A-Za-z0-9_.]+$')
BARE = re.compile(r'^[^\s"=\\%]+$')  # a constant value logfmt takes unquoted


def split_call(src, i):
    """Arguments of the call whose '(' is at src[i], as source text."""
    depth, args, cur, j = 0, [], [], i
    while j < len(src):
        c = src[j]
        if c in "\"'":
            k = j + 1
            while src[k] != c:
                k += 2 if src[k] == "\\" else 1
            cur.append(src[j:k + 1])
            j = k + 1
            continue
        if src.startswith("/*", j):
            j = src.index("*/", j) + 2
            continue
        if c in "([{":
            depth += 1
            if depth == 1:
                j += 1
                continue
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                args.append("".join(cur).strip())
                return args
        elif c == "," and depth == 1:
            args.append("".join(cur).strip())
            cur = []
            j += 1
            continue
        cur.append(c)
        j += 1
    raise ValueError("unbalanced call")


def literal(text):
    """The string a C literal (adjacent pieces, PRI macros) spells, or None."""
    out, pos = "", 0
    for m in re.finditer(r'\s*(?:"((?:[^"\\]|\\.)*)"|(PRI[a-zA-Z0-9]+))\s*', text):
        if m.start() != pos:
            return None
        out += m.group(1) if m.group(1) is not None else PRI.get(m.group(2), "d")
        pos = m.end()
    return out if pos == len(text) and text else None


def check(path, src, bad):
    for m in CALL.finditer(src):
        line = src.count("\n", 0, m.start()) + 1
        if src[:m.start()].rstrip().endswith(("void", "*")) or \
                re.match(r'\s*\(\s*(enum|const|char)\b', src[m.end() - 1:]):
            continue  # a declaration or definition
        try:
            args = split_call(src, m.end() - 1)
        except (ValueError, IndexError):
            bad.append(f"{path}:{line}: cannot read the call")
            continue
        fi = {"msg": 2, "limited": 3}.get(m.group(1), 1)
        if len(args) <= fi:
            continue
        fmt = literal(args[fi])
        if fmt is None:
            bad.append(f"{path}:{line}: the fields are not a string literal: {args[fi][:50]}")
            continue
        if fmt == "":
            continue
        for pair in fmt.split(" "):
            k, eq, v = pair.partition("=")
            if not eq or not KEY.match(k) or not (v.startswith("%") or BARE.match(v)):
                bad.append(f"{path}:{line}: not key=%conversion: {pair!r}")
        convs = [c for c in CONV.finditer(fmt) if c.group(4) != "%"]
        ai, nq = fi + 1, 0
        for c in convs:
            ai += (c.group(1) == "*") + (c.group(2) == "*")
            a = args[ai] if ai < len(args) else ""
            ai += 1
            if c.group(4) == "s":
                if not a.startswith("log_q("):
                    bad.append(f"{path}:{line}: %s value not through log_q(): {a[:60]}")
                nq += 1
        if nq > 8:
            bad.append(f"{path}:{line}: {nq} log_q() values, more than its ring holds (8)")
        keys = {p.partition("=")[0] for p in fmt.split(" ")}
        if "task" in keys and "attempt" not in keys:
            bad.append(f"{path}:{line}: task= without attempt=")


def main():
    bad, n = [], 0
    for root in sys.argv[1:]:
        for dp, _, files in os.walk(root):
            for f in sorted(files):
                if f.endswith(".c"):
                    p = os.path.join(dp, f)
                    n += 1
                    check(p, open(p, encoding="utf-8").read(), bad)
    for b in bad:
        print("# " + b)
    print("1..1")
    print(("ok" if not bad else "not ok") + f" 1 - the log calls of {n} files keep to logfmt"
          + (f" ({len(bad)} offences)" if bad else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
