"""The hierarchy as a text tree (``bertviz-graph info``): label, parameters, FLOPs, in -> out shapes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bertviz_graph import format as fmt
from bertviz_graph.format import flops_text, human
from bertviz_graph.hierarchy.tree import ROOT, Hierarchy

if TYPE_CHECKING:  # rich is imported when a tree is printed: `serve` reads only `human` from here
    from rich.console import Console
    from rich.tree import Tree

__all__ = ["human", "linear_depth", "print_tree"]




def _shapes(shapes: list[list[int]]) -> str:
    if not shapes:
        return "-"
    text = ", ".join("[" + ", ".join(map(str, s)) + "]" for s in shapes[:2])
    return text + (f" +{len(shapes) - 2}" if len(shapes) > 2 else "")


def group_line(h: Hierarchy, gid: str) -> str:
    g = h.groups[gid]
    name = gid.split("@")[0].rsplit(".", 1)[-1] if gid else g.cls
    head = f"[bold]{g.label}[/bold]"
    if g.sublabel:
        head += f" [dim]({g.sublabel})[/dim]"
    if name and name != g.label:
        head += f"  [cyan]{name}[/cyan]"
    stats = f"params {fmt.count(g.params)}  FLOPs {flops_text(g.flops, g.flops_unknown, short=True)}  ops {g.n_ops}"
    return f"{head}  {stats}  {_shapes(g.inputs)} → {_shapes(g.outputs)}"


def build_tree(h: Hierarchy, max_depth: int = 4) -> Tree:
    from rich.tree import Tree

    meta = h.graph.meta
    root = Tree(f"[bold]{meta.get('name', '')}[/bold] · {group_line(h, ROOT)}")

    def add(node: Tree, gid: str, depth: int) -> None:
        if depth >= max_depth:
            return
        grp = h.groups[gid]
        kids = [c for c in grp.children if c in h.groups]
        if grp.kind == "series":
            first = grp.members[0]
            branch = node.add(f"[magenta]each of the {len(grp.members)}:[/magenta] {group_line(h, first)}")
            add(branch, first, depth + 1)
            return
        for c in kids:
            add(node.add(group_line(h, c)), c, depth + 1)

    add(root, ROOT, 0)
    return root


def linear_depth(h: Hierarchy) -> int:
    """The ``max_depth`` at which ``build_tree`` shows every Linear (of the member a series shows):
    the default of ``bertviz-graph info``, so the tree reaches the weight matrices."""
    best = 1

    def walk(gid: str, level: int) -> None:
        nonlocal best
        grp = h.groups[gid]
        if grp.cls in ("Linear", "Conv1D") or grp.role == "linear":
            best = max(best, level)
        if grp.kind == "series":
            walk(grp.members[0], level + 1)
            return
        for c in grp.children:
            if c in h.groups:
                walk(c, level + 1)

    walk(ROOT, 0)
    return best


def print_tree(h: Hierarchy, max_depth: int = 4, console: Console | None = None) -> None:
    from rich.console import Console

    if console is None:
        console = Console()
        if not console.is_terminal:  # piped or captured: long lines beat lines wrapped mid-number
            console = Console(width=240)
    console.print(build_tree(h, max_depth))
