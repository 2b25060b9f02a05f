#!/usr/bin/env python3
"""Prints the import cycles among the top-level modules of a crate's `src/` directory.

A module's edges are every `crate::<name>` path in its files (in `use` lines and in code);
`<name>` is a top-level module of the same crate. Each strongly connected component with
more than one module is a cycle: `python3 scripts/module_cycles.py actors/src src`.
"""
import os
import re
import sys

PATH = re.compile(r"\bcrate::(?:\{\s*)?([a-z_][a-z0-9_]*)")
GROUP = re.compile(r"\bcrate::\{([^}]*)\}", re.S)


def top_modules(root):
    mods = set()
    for name in os.listdir(root):
        if name.endswith(".rs") and name not in ("lib.rs", "main.rs"):
            mods.add(name[:-3])
        elif os.path.isdir(os.path.join(root, name)):
            mods.add(name)
    return mods


def edges(root, mods):
    graph = {m: set() for m in mods}
    for dirpath, _, files in os.walk(root):
        for f in files:
            if not f.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, f), root)
            top = rel.split(os.sep)[0]
            top = top[:-3] if top.endswith(".rs") else top
            if top not in graph:
                continue
            text = open(os.path.join(dirpath, f), encoding="utf-8").read()
            found = set(PATH.findall(text))
            for group in GROUP.findall(text):
                for item in group.split(","):
                    head = item.strip().split("::")[0].strip()
                    if head:
                        found.add(head)
            for target in found:
                if target in mods and target != top:
                    graph[top].add(target)
    return graph


def sccs(graph):
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main():
    status = 0
    for root in sys.argv[1:] or ["src"]:
        mods = top_modules(root)
        graph = edges(root, mods)
        cycles = [c for c in sccs(graph) if len(c) > 1]
        print(f"{root}: {len(mods)} top-level modules, {len(cycles)} cycle(s)")
        for c in cycles:
            print(f"  {len(c)} modules: {' '.join(c)}")
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
