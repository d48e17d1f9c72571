"""``nngraph.optimize``: trace a model and run the pass pipeline (the compiler's front half)."""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from ..ir.graph import Graph
from ..trace import trace
from .base import PassContext
from .manager import PassManager, PassStats, numerics_report, resolve_pipeline


@dataclass
class OptimizeResult:
    traced: Graph  # the graph as traced
    graph: Graph  # after the passes
    stats: list[PassStats] = field(default_factory=list)
    numerics: dict[str, float] = field(default_factory=dict)  # fused node -> max deviation on the example inputs

    def report(self) -> str:
        lines = ["pass                nodes before -> after"] + [s.line() for s in self.stats]
        if self.graph.memory_plan is not None:
            lines.append(self.graph.memory_plan.summary())
        if self.traced.breaks:
            lines += [f"graph break: {b.message()}" for b in self.traced.breaks]
        return "\n".join(lines)


class _Dumper:
    """Writes the graph before and after each pass into ``directory`` plus an index."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        os.makedirs(directory, exist_ok=True)
        self.entries: list[str] = []
        self.render = shutil.which("dot") is not None

    def __call__(self, stage: str, graph: Graph) -> None:
        base = os.path.join(self.directory, stage)
        graph.dump(base + ".dot", title=stage)
        files = [stage + ".dot"]
        if self.render and len(graph) < 400:
            graph.dump(base + ".svg", title=stage)
            files.append(stage + ".svg")
        self.entries.append(f"| {stage} | {len(graph)} | {len(graph.ops())} | " +
                            ", ".join(f"[{f}]({f})" for f in files) + " |")
        with open(os.path.join(self.directory, "index.md"), "w") as f:
            f.write("| stage | nodes | ops | files |\n| --- | --- | --- | --- |\n" + "\n".join(self.entries) + "\n")


def optimize(model: Any, *example_inputs: Any, passes: str | Sequence[str | Callable] = "default",
             disable: Iterable[str] = (), debug: bool = False, dump_dir: str | None = None, fullgraph: bool = False,
             training: bool | None = None, numerics: bool = True, **example_kwargs: Any) -> OptimizeResult:
    """Trace ``model`` on the example inputs and optimize the graph.

    ``passes``: "default" or a list of pass names/callables; ``disable``: pass names to skip; ``debug``: lint and
    check numerics after every pass; ``dump_dir`` (or env ``NNGRAPH_DUMP``): write the graph before/after each pass.
    Train mode (``model.training``) runs the train pipeline: no folding, no fusion. ``numerics=False`` skips the
    numerics report (it runs the graph twice in the interpreter).
    """
    training = model.training if training is None else training
    traced = trace(model, *example_inputs, fullgraph=fullgraph, **example_kwargs)
    dump_dir = dump_dir or os.environ.get("NNGRAPH_DUMP") or None
    ctx = PassContext(training=training, example=(example_inputs, example_kwargs), root=model)
    manager = PassManager(resolve_pipeline(passes, disable, training), ctx, debug=debug,
                          dump=_Dumper(dump_dir) if dump_dir else None)
    graph = manager.run(traced.copy())
    report = numerics_report(traced, graph, model, (example_inputs, example_kwargs)) \
        if numerics and not training else {}
    return OptimizeResult(traced, graph, manager.stats, report)
