#!/usr/bin/env python3
"""Queries over `batonctl --json cluster status` output, read from stdin, for the
integration tests (lib.sh). Exit 0 with the answer on stdout, 1 when the answer is
"none" or "no", 2 on bad usage or unparsable input.

  leader              id of the node that says it leads (highest term if several)
  agree N             N nodes answer, all on one term, exactly one says it leads,
                      and every node names it as its leader
  get ID FIELD        FIELD of node ID as it reports it
  leaders             ids of the nodes that say they lead, one per line
  reachable           how many nodes answered
  no_leader           how many nodes answered; exit 1 if any of them says it leads
  suspects ID         (on `cluster health` output) the peers node ID suspects
"""
import json
import sys


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        doc = json.load(sys.stdin)
    except ValueError as e:
        print("status.py: not JSON: %s" % e, file=sys.stderr)
        return 2
    nodes = [n for n in doc.get("nodes", []) if n.get("reachable") and "error" not in n]
    leaders = [n for n in nodes if n.get("role") == "leader"]
    cmd = argv[1]
    if cmd == "leader":
        if not leaders:
            return 1
        print(max(leaders, key=lambda n: n["term"])["id"])
        return 0
    if cmd == "agree" and len(argv) == 3:
        if len(nodes) != int(argv[2]) or len(leaders) != 1:
            return 1
        lead = leaders[0]
        same = all(n["term"] == lead["term"] and n["leader"] == lead["id"] for n in nodes)
        return 0 if same else 1
    if cmd == "get" and len(argv) == 4:
        for n in nodes:
            if str(n.get("id")) == argv[2] and argv[3] in n:
                print(n[argv[3]])
                return 0
        return 1
    if cmd == "leaders":
        for n in leaders:
            print(n["id"])
        return 0
    if cmd == "no_leader":
        print(len(nodes))
        if leaders:
            print("nodes %s claim leadership" % [n["id"] for n in leaders], file=sys.stderr)
            return 1
        return 0
    if cmd == "suspects" and len(argv) == 3:
        for n in nodes:
            if str(n.get("id")) == argv[2]:
                for p in n.get("suspects", []):
                    print(p)
                return 0
        return 1
    if cmd == "reachable":
        print(len(nodes))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
