"""``nngraph explain MODEL``: what the compiler did to a model. Per-pass statistics, every fusion/fold with the
modules involved, graph breaks with their reasons, planned vs unplanned activation memory and the numerics report
(per fused/folded node, the largest deviation from the nodes it replaces on the example input).

``--profile`` adds three timings, labelled as what they measure: the optimized graph node by node in the reference
interpreter (numpy; a breakdown of where the work is, not the compiled speed), the compiled executor's own steps
(generated Numba segments and host steps) against a whole compiled call, and every kernel call inside the segments
timed in place (per node of the compiled graph; ``--threads`` sets the threads, as for ``nngraph.compile``).
"""
from __future__ import annotations

import argparse
import json
import warnings
from typing import Any

from .common import CLIError, check_threads, count_parameters
from .modelref import add_input_arguments, ref_from_args
from .table import format_table

NAME = "explain"
HELP = "show what the compiler did: passes, fusions, graph breaks, memory plan, numerics (--profile: timings)"


def _csv(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="a zoo name (see --list) or package.module:factory")
    parser.add_argument("--batch", type=int, default=1, metavar="N", help="batch size of the example input (1)")
    parser.add_argument("--profile", action="store_true", help="time every node / compiled step")
    parser.add_argument("--top", type=int, default=15, metavar="N", help="rows of the profile tables (15)")
    parser.add_argument("--repeat", type=int, default=3, metavar="R", help="timed runs per profile (3)")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="threads of the compiled profiles (default: all cores Numba may use)")
    passes = parser.add_mutually_exclusive_group()
    passes.add_argument("--passes", type=_csv, action="extend", default=None, metavar="P,P",
                        help="run only these passes, in order")
    passes.add_argument("--disable", type=_csv, action="extend", default=None, metavar="P,P",
                        help="skip these passes of the default pipeline")
    parser.add_argument("--json", metavar="OUT", default=None, help="also write the report as JSON ('-': stdout only)")
    add_input_arguments(parser)


# -- collecting ---------------------------------------------------------------------------------------------------
def _op_delta(before: dict[str, int], after: dict[str, int]) -> str:
    parts = []
    for op in sorted(set(before) | set(after)):
        d = after.get(op, 0) - before.get(op, 0)
        if d:
            parts.append(f"{'+' if d > 0 else '-'}{abs(d)} {op}")
    return ", ".join(parts)


def _origin(traced: Any, name: str) -> dict[str, str]:
    if name in traced:
        node = traced[name]
        return {"node": name, "op": str(node.target), "module": node.meta.module}
    return {"node": name, "op": "", "module": ""}


def collect(result: Any) -> dict[str, Any]:
    """The report of an ``OptimizeResult`` as a JSON-able dict."""
    from nngraph.passes.manager import tolerance
    from nngraph.ops.registry import TensorSpec

    from .profiling import node_label

    traced, graph = result.traced, result.graph
    passes = [{"pass": s.name, "nodes_before": s.nodes_before, "nodes_after": s.nodes_after, "changed": s.changed,
               "fused": len(s.fused), "ms": s.seconds * 1e3, "ops": _op_delta(s.ops_before, s.ops_after)}
              for s in result.stats]
    created_by = {new: s.name for s in result.stats for new in s.fused}
    fusions = []
    for node in graph.nodes():
        if not node.meta.fused_from:
            continue
        origins = [_origin(traced, n) for n in node.meta.fused_from]
        fusions.append({"node": node.name, "what": node_label(node), "module": node.meta.module,
                        "pass": created_by.get(node.name, ""), "from": origins,
                        "modules": sorted({o["module"] or "(root)" for o in origins if o["op"]}),
                        "weight_only": node.meta.weight_only})
    breaks = [{"module": b.module, "module_type": b.module_type, "location": b.location, "reason": b.reason,
               "message": b.message()} for b in traced.breaks]
    eager_modules = [{"node": n.name, "module": n.target, "reason": n.attrs.get("reason", "")}
                     for n in graph.nodes() if n.kind == "module"]
    plan = graph.memory_plan
    memory = None if plan is None else {
        "planned_bytes": plan.planned_bytes, "unplanned_bytes": plan.unplanned_bytes,
        "buffers": len(plan.buffer_bytes), "in_place": len(plan.inplace), "concat_in_place": len(plan.into),
        "summary": plan.summary()}
    numerics = []
    for name, dev in sorted(result.numerics.items(), key=lambda kv: -kv[1]):
        spec = graph[name].spec if name in graph else None
        tol = tolerance(spec.dtype) if isinstance(spec, TensorSpec) else None
        numerics.append({"node": name, "what": node_label(graph[name]) if name in graph else "",
                         "max_deviation": dev, "tolerance": tol, "ok": tol is None or dev <= tol})
    return {"traced_nodes": len(traced), "optimized_nodes": len(graph), "traced_ops": len(traced.ops()),
            "optimized_ops": len(graph.ops()), "passes": passes, "fusions": fusions, "graph_breaks": breaks,
            "eager_modules": eager_modules, "memory": memory, "numerics": numerics}


def _profile(result: Any, model: Any, inputs: tuple, args: argparse.Namespace) -> dict[str, Any]:
    import nngraph

    from .profiling import executor_profile, interpreter_profile, kernel_profile

    per_node = interpreter_profile(result.graph, model, inputs, repeat=args.repeat)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compiled = nngraph.compile(model, passes=args.passes or "default", disable=args.disable or (),
                                   threads=args.threads)
        compiled(*inputs)
    steps, whole_ms = executor_profile(compiled, inputs, repeat=max(args.repeat, 5))
    kernels, kernels_ms, run_ms = kernel_profile(compiled, inputs, repeat=max(args.repeat, 5))
    return {"interpreter_nodes": [t.as_dict() for t in per_node], "executor_steps": [t.as_dict() for t in steps],
            "compiled_call_ms": whole_ms, "kernel_nodes": [t.as_dict() for t in kernels], "kernels_ms": kernels_ms,
            "instrumented_call_ms": run_ms, "threads": args.threads, "repeat": args.repeat}


# -- rendering ----------------------------------------------------------------------------------------------------
def _mib(n: int) -> str:
    return f"{n / 2**20:.2f} MiB" if n >= 2**20 else f"{n / 2**10:.1f} KiB"


def render(rep: dict[str, Any], top: int) -> str:
    out = [f"model:  {rep['model']}  ({rep['description']})", f"input:  {rep['inputs']}",
           f"graph:  {rep['traced_nodes']} nodes ({rep['traced_ops']} ops) traced -> {rep['optimized_nodes']} nodes "
           f"({rep['optimized_ops']} ops) optimized", ""]
    out += ["passes", format_table(["pass", "nodes", "fused", "ms", "op changes"],
                                   [[p["pass"], f"{p['nodes_before']} -> {p['nodes_after']}", p["fused"] or "",
                                     f"{p['ms']:.1f}", p["ops"] or ("-" if not p["changed"] else "")]
                                    for p in rep["passes"]], [False, True, True, True, False], max_width=100), ""]
    fusions = rep["fusions"]
    out.append(f"fusions and folds ({len(fusions)})")
    if fusions:
        rows = []
        for f in fusions:
            origin = ", ".join(f"{o['op'] or o['node']}({o['module'] or 'root'})" if o["op"] else o["node"]
                               for o in f["from"])
            rows.append([f["node"], f["pass"], f["what"] + (" [weights]" if f["weight_only"] else ""), origin])
        out.append(format_table(["node", "pass", "result", "from op(module)"], rows, max_width=70))
    else:
        out.append("  none")
    out += ["", f"graph breaks ({len(rep['graph_breaks'])})"]
    out += [f"  {b['message']}" for b in rep["graph_breaks"]] or ["  none: the whole forward was traced"]
    hooked = [m for m in rep["eager_modules"] if m["module"] not in {b["module"] for b in rep["graph_breaks"]}]
    out += [f"  eager module '{m['module']}': {m['reason'] or 'hooked'}" for m in hooked]
    mem = rep["memory"]
    out += ["", "activation memory"]
    if mem:
        saved = 1 - mem["planned_bytes"] / mem["unplanned_bytes"] if mem["unplanned_bytes"] else 0.0
        out.append(f"  planned {_mib(mem['planned_bytes'])} in {mem['buffers']} buffers ({mem['in_place']} in place, "
                   f"{mem['concat_in_place']} computed into a concatenation) vs unplanned "
                   f"{_mib(mem['unplanned_bytes'])} (one buffer per intermediate): {saved:.0%} saved")
    else:
        out.append("  no memory plan (plan_memory did not run)")
    num = rep["numerics"]
    out += ["", f"numerics: max relative deviation of each fused/folded node from the nodes it replaces ({len(num)})"]
    if num:
        out.append(format_table(["node", "result", "deviation", "tolerance", "ok"],
                                [[n["node"], n["what"], f"{n['max_deviation']:.2e}",
                                  "-" if n["tolerance"] is None else f"{n['tolerance']:.0e}",
                                  "yes" if n["ok"] else "NO"] for n in num],
                                [False, False, True, True, False], max_width=60))
    else:
        out.append("  no fused or folded nodes")
    prof = rep.get("profile")
    if prof:
        out += ["", _render_profile(prof, top)]
    return "\n".join(out)


def _render_profile(prof: dict[str, Any], top: int) -> str:
    nodes = [n for n in prof["interpreter_nodes"] if not n["weight_only"]]
    weights_ms = sum(n["ms"] for n in prof["interpreter_nodes"] if n["weight_only"])
    total = sum(n["ms"] for n in nodes) or 1.0
    out = [f"profile 1: the optimized graph node by node in the reference interpreter (numpy; median of "
           f"{prof['repeat']} runs) -- where the work is, not the compiled speed",
           format_table(["node", "what", "module", "ms", "share"],
                        [[n["name"], n["what"], n["module"] or "(root)", f"{n['ms']:.3f}", f"{n['ms'] / total:.1%}"]
                         for n in nodes[:top]], [False, False, False, True, True], max_width=60),
           f"  {len(nodes)} nodes, {total:.2f} ms in all" + (f"; weight-only nodes {weights_ms:.2f} ms (computed once "
                                                           "per weight version when compiled, not per call)"
                                                           if weights_ms else ""), ""]
    steps = prof["executor_steps"]
    step_total = sum(s["ms"] for s in steps)
    ranked = sorted(steps, key=lambda s: -s["ms"])[:top]
    out += [f"profile 2: the compiled executor's steps, each timed alone ({len(steps)} steps: Numba segments and "
            "host steps)",
            format_table(["step", "what", "module", "ms", "share"],
                         [[s["name"], s["what"], s["module"] or "", f"{s['ms']:.3f}",
                           f"{s['ms'] / (step_total or 1.0):.1%}"] for s in ranked],
                         [False, False, False, True, True], max_width=70),
            f"  steps {step_total:.3f} ms in all; a whole compiled call {prof['compiled_call_ms']:.3f} ms (the "
            "difference: argument handling, output allocation, Python dispatch)", ""]
    kernels = prof["kernel_nodes"]
    ktotal = prof["kernels_ms"] or 1.0
    threads = prof.get("threads") or "all"
    out += [f"profile 3: kernel calls timed in place inside the compiled segments, per node ({len(kernels)} nodes, "
            f"threads={threads}; cycle counter between calls, median of {max(prof['repeat'], 5)} runs)",
            format_table(["node", "what [kernels]", "module", "ms", "share"],
                         [[k["name"], k["what"], k["module"] or "", f"{k['ms']:.3f}", f"{k['ms'] / ktotal:.1%}"]
                          for k in sorted(kernels, key=lambda k: -k["ms"])[:top]],
                         [False, False, False, True, True], max_width=70),
            f"  kernel calls {prof['kernels_ms']:.3f} ms in all; a whole instrumented run "
            f"{prof['instrumented_call_ms']:.3f} ms (the difference: host steps, segment entry, clock reads)"]
    return "\n".join(out)


def execute(args: argparse.Namespace) -> int:
    import nngraph
    from nngraph.trace import GraphBreakWarning

    if args.batch < 1 or args.top < 1 or args.repeat < 1:
        raise CLIError("--batch, --top and --repeat must be at least 1")
    if args.threads is not None:
        check_threads(args.threads)
    ref = ref_from_args(args.model, args)
    model = ref.build(args.seed, args.pretrained)
    inputs = ref.inputs(args.batch, args.seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GraphBreakWarning)  # reported below, with the rest
        try:
            result = nngraph.optimize(model, *inputs, passes=args.passes or "default", disable=args.disable or ())
        except ValueError as e:
            if "pass" in str(e):
                raise CLIError(str(e)) from None
            raise
    rep = {"model": ref.name, "description": ref.description, "inputs": ref.describe_inputs(args.batch),
           "parameters": count_parameters(model), **collect(result)}
    if args.profile:
        rep["profile"] = _profile(result, model, inputs, args)
    if args.json == "-":
        print(json.dumps(rep, indent=2, default=str))
        return 0
    print(render(rep, args.top))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rep, f, indent=2, default=str)
        print(f"\nwrote {args.json}")
    return 0
