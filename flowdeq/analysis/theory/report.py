r"""All of Section 3 on one configuration: the runs, every statement, one table.

:func:`check_theorems` runs the flow (with every step end saved) and, with ``[descent]``,
GD from each configured start (at most ``max_starts``), and checks every statement that
applies to the model; a statement that does not apply gets one ``not applicable`` row with
its reason, so any configuration gives a full table and never an error for being the
wrong model.  :func:`theory_markdown` renders it.
"""
from __future__ import annotations

import numpy as np

from ...dynamics.descent import gradient_descent
from ...dynamics.flow import gradient_flow
from ..continuous import THEORY_MAX_STEPS, DescentPath, FlowPath
from . import general, linear, single_index
from ._verdict import NOT_APPLICABLE, Check

__all__ = ["check_theorems", "theory_markdown", "not_applicable", "FLOW_DEFAULTS"]

# flows checked against theorems are solved tighter than FlowSettings' defaults
FLOW_DEFAULTS = {"rtol": 1e-11, "atol": 1e-13, "max_steps": THEORY_MAX_STEPS}

_LINEAR_FLOW = ["Thm 3.1", "Lemma 3.2", "Thm 3.3", "Thm 3.4", "Lyapunov"]
_LINEAR_GD = ["Lemma 3.5", "Lemma 3.7", "Thm 3.6"]
_SI_FLOW = ["Thm 3.8", "Cor 3.1", "F1", "Lyapunov"]
_SI_GD = ["Lemma 3.5", "Thm 3.9"]
_SI_CONST = ["A1(i)", "A1(ii)", "A2(i)", "A2(ii)", "A3", "Remark 3.1", "F1"]


def not_applicable(theorem: str, reason: str, start: str = "config", kind: str = "flow") -> Check:
    return Check(theorem, "–", "–", {}, NOT_APPLICABLE, reason, None, start=start, kind=kind)


def _fmt(v, nd=3):
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "**no**"
    try:
        return f"{float(v):.{nd}g}"
    except (TypeError, ValueError):
        return str(v)


def _starts(cfg, max_starts):
    th = cfg.theta0
    if th is None:
        return []
    th = np.atleast_2d(np.asarray(th, float))
    labels = ["config"] if len(th) == 1 else [f"config[{i}]" for i in range(len(th))]
    return list(zip(labels, th))[:max_starts]


def check_theorems(cfg, *, max_starts: int = 4, progress=None) -> list[Check]:
    """Every Section 3 statement on the runs of a :class:`~flowdeq.app.config.RunConfig`
    (see the module docstring).  ``progress`` (a callable taking one line) reports each
    stage of long work."""
    say = progress or (lambda msg: None)
    problem = cfg.problem
    kind = problem.model.kind
    t1 = cfg.flow.get("t1")
    eta, steps = cfg.descent.get("step_size"), int(cfg.descent.get("steps", 0) or 0)
    if eta is not None and np.ndim(eta) > 0:
        eta = float(np.atleast_1d(eta)[0])
    has_gd = eta is not None and steps > 0
    kw = dict(FLOW_DEFAULTS)
    kw.update(cfg.flow_kwargs())
    kw.pop("save_steps", None)
    starts = _starts(cfg, max_starts)
    out: list[Check] = []
    if kind not in ("linear", "single-index"):
        out.append(not_applicable(
            "Section 3", f"the paper's theorems cover its linear and single-index DEQs; this "
            f"model ({problem.model.describe().get('kind')}) is neither: only the model-free "
            "statements below apply", kind="constants"))
    if not starts:
        out.append(not_applicable("all runs", "the config has no [init] θ₀: add [init] to check "
                                  "statements along runs", kind="constants"))
    if t1 is None:
        out.append(not_applicable("flow statements", "the config has no [flow] t1: add it to "
                                  "check the flow's statements"))
    if not has_gd:
        out.append(not_applicable("GD statements", "the config has no [descent] step_size and "
                                  "steps: add them to check the GD statements", kind="descent"))
    def flow(th0, label):
        say(f"flow from the {label} start")
        tr = gradient_flow(problem, th0, float(t1), save_steps=True, **kw)
        return FlowPath(problem, tr)

    def descent(th0, label):
        say(f"GD from the {label} start")
        return DescentPath(problem, gradient_descent(problem, th0, float(eta), steps,
                                                     **cfg.descent_kwargs()), float(eta))

    for label, th0 in starts:
        if kind == "linear":
            out += _linear(problem, th0, label, flow if t1 is not None else None,
                           descent if has_gd else None, say)
        elif kind == "single-index":
            out += _single_index(cfg, problem, th0, label, flow if t1 is not None else None,
                                 descent if has_gd else None, say, first=label == starts[0][0])
        else:
            if t1 is not None:
                out.append(general.lyapunov(problem, flow(th0, label), start=label))
            if has_gd:
                out.append(general.lemma35(problem, descent(th0, label), start=label))
    return out


def _linear(problem, th0, label, flow, descent, say):
    out = []
    try:
        c = linear.linear_constants(problem, th0)
    except ValueError as err:
        c = None
        why = str(err)
    if flow is not None:
        path = flow(th0, label)
        out.append(linear.thm31(problem, path, start=label))
        if c is None:
            out += [not_applicable(t, f"hypothesis fails: {why}", label)
                    for t in ("Lemma 3.2", "Thm 3.3", "Thm 3.4")]
        else:
            say("Lemma 3.2, Thms 3.3, 3.4 along the flow")
            out += linear.lemma32(problem, path, c, start=label)
            out += linear.thm33(problem, path, start=label)
            out += linear.thm34(problem, path, start=label)
        out.append(general.lyapunov(problem, path, start=label))
    if descent is not None:
        dpath = descent(th0, label)
        if c is None:
            out.append(general.lemma35(problem, dpath, start=label))
            out += [not_applicable(t, f"hypothesis fails: {why}", label, "descent")
                    for t in ("Lemma 3.7", "Thm 3.6")]
        else:
            say("Lemma 3.7's constants (L_Θ, G_Θ maximised over the set)")
            c37 = linear.lemma37_constants(problem, th0)
            l37 = linear.lemma37(problem, dpath, c37, start=label)
            # L_Θ is ∇R's Lipschitz constant on Θ + B̄(β/2): it covers every GD segment when
            # the iterates stay in Θ and each step is at most β/2 long
            inside = bool(l37[0].met) and bool(np.all(
                dpath.eta * dpath.grad_norm[:-1] <= c37["beta"] / 2))
            out.append(general.lemma35(problem, dpath, L=c37["L_Theta"] if inside else None,
                                       L_name="L_Θ (Lemma 3.7's set)" if inside else
                                       "L (sampled on the path)", start=label))
            out += l37
            out += linear.thm36(problem, dpath, consts=c37, start=label)
    return out


def _single_index(cfg, problem, th0, label, flow, descent, say, first):
    out = []
    th = cfg.table("theory", ("delta1", "delta2", "alpha"))
    kw = {k: th.get(k) for k in ("delta1", "delta2", "alpha")}
    say("single-index constants (ρ, γ, λ₂, A3 witness, λ*)")
    c0 = single_index.single_index_constants(problem, th0, **kw)
    if first:
        out += single_index.assumptions(problem, c0, start=label)
        out.append(single_index.remark31(problem, c0, start=label))
        say("F1: −r′/r over the contraction strip")
        out.append(single_index.strip_row(problem, c0, start=label))
    starts = [(label, th0, c0)]
    if not (c0["dist0"] <= c0["radius_corrected"]):
        ts = np.asarray(c0["theta_star"])
        v = th0 - ts
        v = v / np.linalg.norm(v) if np.linalg.norm(v) > 0 else np.eye(ts.size)[0]
        s0 = ts + 0.5 * min(c0["radius_corrected"], 0.5 / c0["L"]) * v
        starts.append((f"theory:{label}" if label != "config" else "theory", s0,
                       single_index.single_index_constants(problem, s0, **kw)))
    for lab, s0, c in starts:
        if flow is not None:
            path = flow(s0, lab)
            say(f"Thm 3.8, Cor. 3.1 along the flow ({lab})")
            out += single_index.thm38(problem, path, c, start=lab)
            out += single_index.cor31(problem, path, c, start=lab)
            out += single_index.flowdeq_decrease(problem, path, c, start=lab)
            out.append(general.lyapunov(problem, path, start=lab))
        if descent is not None:
            dpath = descent(s0, lab)
            out.append(general.lemma35(problem, dpath, start=lab))
            out += single_index.thm39(problem, dpath, c, start=lab)
    return out


# ====================================================================== markdown
_KEYS = ["lambda_min", "lambda_max", "kappa", "w0", "beta0_E10", "beta_thm34", "beta_lemma37",
         "L_Theta", "G_Theta", "eta0_printed", "eta0", "eta", "L", "delta1", "delta2", "alpha",
         "beta_X", "M", "gamma", "nu_A3", "rho_Theta", "rho_Theta_argmin", "rho_ball",
         "rho_ball_argmin", "lambda2", "lambda1_printed", "lambda1_corrected", "eta_max_printed",
         "eta_max_corrected", "lambda_star", "dist0", "radius_printed", "radius_corrected",
         "limit_printed", "limit_error_printed", "limit_corrected", "limit_error_corrected"]


def theory_markdown(entries, title: str = "") -> str:
    """The table of every checked statement (one row per statement, form, start and run)
    and the constants each start used."""
    lines = [f"# Theorem checks{': ' + title if title else ''}", "",
             "Verdicts: **holds** (hypotheses hold, conclusion met everywhere checked), "
             "**violated** (hypotheses hold, conclusion fails beyond the numerical resolution), "
             "**inconclusive** (too few points, an unconverged run, a value within the "
             "resolution of its bound, or a hypothesis that could not be evaluated), "
             "**hypothesis fails** (the statement claims nothing here; the reason says whether "
             "its conclusion held anyway), **not applicable**.  `worst`: the largest checked "
             "value of quantity/bound (≤ 1 holds), at `at` (time or step).  Paper: arXiv "
             "2511.16976, Section 3; errata E*: docs/errata.md; findings F*: docs/findings.md.",
             "", "| statement | form | start | run | claim | verdict | worst | at | reason | "
             "resolution | ref |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    cell = lambda v: str(v).replace("|", "\\|")
    for e in entries:
        verdict = e.verdict if e.verdict in ("holds", "not applicable") else f"**{e.verdict}**"
        lines.append(f"| {e.theorem} | {e.form} | {e.start} | {e.kind} | {cell(e.quantity)} | "
                     f"{verdict} | {_fmt(e.worst, 4)} | {_fmt(e.at, 4)} | {cell(e.reason)} | "
                     f"{cell(e.resolution)} | {e.errata} |")
    seen = {}
    for e in entries:
        for k in _KEYS:
            if k in e.constants and (e.start, k) not in seen:
                seen[(e.start, k)] = e.constants[k]
    if seen:
        lines += ["", "## Constants", "", "| start | constant | value |", "|---|---|---|"]
        for (st, k), v in seen.items():
            val = (np.array2string(np.asarray(v, float), precision=5) if isinstance(v, list)
                   else _fmt(v, 5))
            lines.append(f"| {st} | {k} | {val} |")
    counts = {}
    for e in entries:
        counts[e.verdict] = counts.get(e.verdict, 0) + 1
    lines += ["", "Verdict counts: " + ", ".join(f"{k} {v}" for k, v in counts.items())]
    return "\n".join(lines) + "\n"
