#!/usr/bin/env python3
"""logfmt.py: a strict reader of the gateway's log lines (tests only).

    logfmt.py [--journal] [--task-lines] FILE...

Every line must be logfmt as go-logfmt reads it, with the gateway's own
rules on top:
  * key=value pairs separated by one space; keys of A-Z a-z 0-9 _ . -;
    no key twice;
  * a value is bare (no space, '"', '=', '\\' or control character) or
    double-quoted with the escapes \\" \\\\ \\n \\r \\t \\uXXXX only;
  * the line is valid UTF-8 and starts with ts= (RFC 3339, UTC,
    milliseconds), level= (debug|info|warn|error), msg=;
  * --journal: each line starts with "<N>", journald's priority, and N
    matches the level.
With --task-lines: a line with task= also has attempt=; "task reported"
lines of a status other than succeeded carry error_class= and error=;
"game process ended" lines carry task=.
Prints each offending line with its number and why; exits 1 if any.
"""
import re
import sys

KEY = re.compile(r"[A-Za-z0-9_.\-]+")
BARE = re.compile(r'[^\s"=\\\x00-\x1f\x7f]+')
TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
LEVELS = {"debug": 7, "info": 6, "warn": 4, "error": 3}
ESC = {'"': '"', "\\": "\\", "n": "\n", "r": "\r", "t": "\t"}


def parse(line):
    """The pairs of one line, in order, or raise ValueError saying why."""
    pairs, i, n = [], 0, len(line)
    while i < n:
        m = KEY.match(line, i)
        if not m:
            raise ValueError("no key at column %d" % i)
        key, i = m.group(0), m.end()
        if i >= n or line[i] != "=":
            raise ValueError("key %r without '='" % key)
        i += 1
        if i < n and line[i] == '"':
            i += 1
            out = []
            while True:
                if i >= n:
                    raise ValueError("value of %r: no closing quote" % key)
                c = line[i]
                if c == '"':
                    i += 1
                    break
                if c == "\\":
                    e = line[i + 1:i + 2]
                    if e in ESC:
                        out.append(ESC[e])
                        i += 2
                    elif e == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", line[i + 2:i + 6]):
                        cp = int(line[i + 2:i + 6], 16)
                        if 0xD800 <= cp <= 0xDFFF:
                            raise ValueError("value of %r: a lone surrogate" % key)
                        out.append(chr(cp))
                        i += 6
                    else:
                        raise ValueError("value of %r: bad escape \\%s" % (key, e))
                    continue
                if ord(c) < 0x20 or c == "\x7f":
                    raise ValueError("value of %r: a raw control character" % key)
                out.append(c)
                i += 1
            value = "".join(out)
        else:
            m = BARE.match(line, i)
            if not m:
                raise ValueError("value of %r: empty or not bare, not quoted" % key)
            value, i = m.group(0), m.end()
        pairs.append((key, value))
        if i < n:
            if line[i] != " " or i + 1 >= n or line[i + 1] == " ":
                raise ValueError("pairs not separated by one space at column %d" % i)
            i += 1
    return pairs


def check_line(raw, journal, task_lines):
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("not valid UTF-8")
    prio = None
    if journal:
        m = re.match(r"<([0-7])>", line)
        if not m:
            raise ValueError("no journald priority prefix")
        prio, line = int(m.group(1)), line[m.end():]
    pairs = parse(line)
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("a key twice")
    if keys[:3] != ["ts", "level", "msg"]:
        raise ValueError("does not start with ts= level= msg=")
    v = dict(pairs)
    if not TS.match(v["ts"]):
        raise ValueError("ts is not RFC 3339 UTC with milliseconds")
    if v["level"] not in LEVELS:
        raise ValueError("unknown level %r" % v["level"])
    if prio is not None and prio != LEVELS[v["level"]]:
        raise ValueError("priority <%d> is not level %s's" % (prio, v["level"]))
    if task_lines:
        if "task" in v and "attempt" not in v:
            raise ValueError("task= without attempt=")
        if v["msg"] == "task reported" and v.get("status") != "succeeded" and \
                ("error_class" not in v or "error" not in v):
            raise ValueError("a task that did not succeed reported without its error")
        if v["msg"] == "game process ended" and "task" not in v:
            raise ValueError("game process ended without task=")
    return v


def main(argv):
    journal = "--journal" in argv
    task_lines = "--task-lines" in argv
    files = [a for a in argv if not a.startswith("--")]
    bad = lines = 0
    for f in files:
        with open(f, "rb") as fh:
            for no, raw in enumerate(fh, 1):
                raw = raw.rstrip(b"\n")
                lines += 1
                try:
                    check_line(raw, journal, task_lines)
                except ValueError as e:
                    bad += 1
                    if bad <= 20:
                        print("# %s:%d: %s: %r" % (f, no, e, raw[:300]))
    print("# %d lines read, %d not strict logfmt" % (lines, bad))
    return 1 if bad or lines == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
