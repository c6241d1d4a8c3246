#!/usr/bin/env python3
"""Stack depth over gcc's -fcallgraph-info=su files (*.ci): the module scripts/size_esp32.sh uses, and a CLI.

    callgraph.py DIR FUNC...    prints "FUNC DEPTH FRAME" for each: the deepest path from FUNC (bytes)
"""
import glob
import re
import sys


class Graph:
    """Frames (bytes) and calls of every function in DIR's .ci files; an indirect call is the node
    "__indirect_call", whose cost the caller sets."""

    def __init__(self, directory):
        self.cost, self.edges = {}, {}
        for ci in glob.glob(directory + "/*.ci"):
            text = open(ci, encoding="utf-8").read()
            for title, label in re.findall(r'node: \{ title: "([^"]+)" label: "([^"]*)"', text):
                m = re.search(r'(\d+) bytes \(', label)
                self.cost[title] = max(self.cost.get(title, 0), int(m.group(1)) if m else 0)
            for s, t in re.findall(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"', text):
                self.edges.setdefault(s, set()).add(t)
        self.memo = {}

    def deep(self, f, path=(), recursion_ok=False):
        """The costliest path from f, f's frame included. Recursion is an error unless allowed (then
        the cycle counts once)."""
        if f in path:
            if recursion_ok:
                return 0
            raise SystemExit("recursion through " + f)
        if f not in self.memo:
            self.memo[f] = self.cost.get(f, 0) + max(
                [self.deep(t, path + (f,), recursion_ok) for t in self.edges.get(f, ())] or [0])
        return self.memo[f]

    def reset(self):
        self.memo.clear()

    def upto(self, root, target):
        """The costliest chain from root down to target, both frames included; -1 if none."""
        memo = {}

        def walk(f, path):
            if f == target:
                return self.cost.get(f, 0)
            if f in path:
                return -1
            if f not in memo:
                best = max([walk(t, path + (f,)) for t in self.edges.get(f, ())] or [-1])
                memo[f] = -1 if best < 0 else self.cost.get(f, 0) + best
            return memo[f]

        return walk(root, ())


def main():
    g = Graph(sys.argv[1])
    for f in sys.argv[2:]:
        print(f, g.deep(f, recursion_ok=True), g.cost.get(f, 0))


if __name__ == "__main__":
    main()
