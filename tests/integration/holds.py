#!/usr/bin/env python3
"""Checks a record of lock holds for mutual exclusion and fencing-token order.

  holds.py FILE [MIN_HOLDS]

Each line of FILE is one hold: "TOKEN START END WHO [ok|lost]", START and END on
CLOCK_MONOTONIC (any one unit), WHO whoever held it. "lost" marks a hold whose
lease was lost before it ended (its holder was told to stop: such a hold may
overlap the next one, which is what the fencing token guards against); anything
else counts as a hold the holder believed safe throughout.

Violations (exit 1):
  - two safe holds overlap in time;
  - in order of START, tokens do not strictly rise (a later holder must have a
    larger token than every earlier one, lost holds included);
  - fewer than MIN_HOLDS holds (default 1) — a run that never held proves nothing.
Prints one summary line: holds= safe= lost= overlaps= lost_overlaps= token_violations=
min_gap= span=.
"""
import sys


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    min_holds = int(argv[2]) if len(argv) > 2 else 1
    holds = []
    with open(argv[1]) as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) < 4:
                print("holds.py: line %d: '%s'" % (n, line.rstrip()), file=sys.stderr)
                return 2
            status = parts[4] if len(parts) > 4 else "ok"
            holds.append((int(parts[1]), int(parts[2]), int(parts[0]), parts[3], status))
    holds.sort()
    overlaps = lost_overlaps = token_violations = 0
    min_gap = None
    prev = None  # the hold that ends last so far
    max_token = 0
    for h in holds:
        start, end, token, who, status = h
        if end < start:
            print("holds.py: hold ends before it starts: %s" % (h,), file=sys.stderr)
            return 1
        if token <= max_token:
            token_violations += 1
            print("token not rising: %s after a token %d" % (h, max_token), file=sys.stderr)
        max_token = max(max_token, token)
        if prev is not None:
            gap = start - prev[1]
            if gap < 0:
                if status == "ok" and prev[4] == "ok":
                    overlaps += 1
                    print("OVERLAP: %s and %s" % (prev, h), file=sys.stderr)
                else:
                    lost_overlaps += 1
            else:
                min_gap = gap if min_gap is None else min(min_gap, gap)
        if prev is None or end > prev[1]:
            prev = h
    safe = sum(1 for h in holds if h[4] == "ok")
    span = holds[-1][1] - holds[0][0] if holds else 0
    print("holds=%d safe=%d lost=%d overlaps=%d lost_overlaps=%d token_violations=%d "
          "min_gap=%s span=%d" % (len(holds), safe, len(holds) - safe, overlaps, lost_overlaps,
                                  token_violations, min_gap, span))
    if len(holds) < min_holds:
        print("holds.py: only %d holds, wanted at least %d" % (len(holds), min_holds),
              file=sys.stderr)
        return 1
    return 1 if overlaps or token_violations else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
