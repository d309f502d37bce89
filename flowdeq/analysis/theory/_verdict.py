r"""One checked statement and its verdict.

Every statement of the paper's Section 3 (arXiv 2511.16976) is checked in its **printed**
form and, where docs/errata.md corrects it, its **corrected** form; flowdeq's own
findings (docs/findings.md) carry the form ``flowdeq``.  A check ends in one of

=================  ==========================================================================
holds              the hypotheses hold and the conclusion is met everywhere it was checked
                   (the ``resolution`` says where: every step end, every GD iterate, …)
violated           the hypotheses hold and the conclusion fails by more than the numerical
                   resolution ``band`` (a counterexample)
inconclusive       the numbers cannot decide: too few points, a run that stopped early or
                   did not converge (for a statement about the limit), a worst ratio within
                   the band of 1, or a hypothesis that could not be evaluated
hypothesis fails   a hypothesis is false on this problem/run, so the statement claims
                   nothing; whether its conclusion held anyway is in ``reason``
not applicable     the statement is about another model (the paper's theorems cover its
                   linear and single-index DEQs only)
=================  ==========================================================================

:func:`decide` is the only place these rules live.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...dynamics.trajectory import jsonable

__all__ = ["HOLDS", "VIOLATED", "INCONCLUSIVE", "HYPOTHESIS_FAILS", "NOT_APPLICABLE",
           "VERDICTS", "Check", "BoundCheck", "decide"]

HOLDS, VIOLATED, INCONCLUSIVE = "holds", "violated", "inconclusive"
HYPOTHESIS_FAILS, NOT_APPLICABLE = "hypothesis fails", "not applicable"
VERDICTS = (HOLDS, VIOLATED, INCONCLUSIVE, HYPOTHESIS_FAILS, NOT_APPLICABLE)
MIN_POINTS = 3  # below this many checked points (beyond t₀) a "holds" rests on nothing
ROUNDING = 1e-13  # a worst ratio ≤ 1 + 1e-13 is the bound attained to rounding (e.g. at t → t₀⁺)


def _g(v):
    try:
        return f"{float(v):.4g}"
    except (TypeError, ValueError):
        return str(v)


def decide(hypotheses: dict, worst, *, band: float, n_points: int, complete: bool = True,
           incomplete: str = "", min_points: int = MIN_POINTS, what: str = "worst ratio"):
    r"""(verdict, reason, met) from the hypotheses and the worst value of a ≤ 1 claim.

    ``worst`` is the largest checked value of quantity/bound (the claim is worst ≤ 1);
    ``band`` the relative numerical resolution (a worst in (1, 1 + band] cannot be told
    from 1); ``complete`` False when the run stopped early (``incomplete`` says how) — a
    violation found before that still counts, a "holds" does not.  ``met`` is whether the
    conclusion held where checked (None when that is undecided), whatever the hypotheses."""
    failing = [k for k, v in hypotheses.items() if v is False]
    unknown = [k for k, v in hypotheses.items() if v is None]
    if worst is None or np.isnan(worst):
        state = "none"
    elif n_points < min_points:
        state = "few"
    elif worst > 1 + max(band, ROUNDING):
        state = "violated"
    elif worst > 1 + ROUNDING:
        state = "band"
    else:
        state = "ok"
    found = {"none": "conclusion not evaluated",
             "few": f"only {n_points} checked point(s)",
             "violated": f"conclusion fails: {what} {_g(worst)}",
             "band": f"{what} {_g(worst)} is within the numerical resolution {band:.1g} of 1",
             "ok": f"conclusion met: {what} {_g(worst)}"}[state]
    met = {"violated": False, "ok": True}.get(state)
    if failing:
        return HYPOTHESIS_FAILS, f"{', '.join(failing)} false; {found} (no claim)", met
    if unknown:
        return INCONCLUSIVE, f"{', '.join(unknown)} could not be evaluated; {found}", met
    if state == "violated":
        return VIOLATED, found, met
    if state in ("none", "few", "band"):
        return INCONCLUSIVE, found, met
    if not complete:
        return INCONCLUSIVE, f"{found} up to t_end, but {incomplete}", met
    return HOLDS, found, met


@dataclass
class Check:
    """One statement, in one form, checked on one run (or on the problem's constants).

    ``worst`` is the largest value of the checked ratio (≤ 1 means the claim holds), at
    time/step ``at``; ``resolution`` says how finely the run was checked; ``reason`` is
    the one-line ground of the ``verdict``.  ``t``/``observed``/``bound`` hold the curve
    at the checked points (step ends or iterates) for the figure."""

    theorem: str                       # "Thm 3.4", "Lemma 3.7", "A2(ii)", "F1", …
    form: str                          # "printed" | "corrected" | "explicit" | "flowdeq"
    quantity: str                      # the claim, in one line
    hypotheses: dict
    verdict: str
    reason: str = ""
    met: bool | None = None            # conclusion held where checked (None: undecided)
    worst: float | None = None
    at: float | None = None
    resolution: str = ""
    fitted_rate: float | None = None
    bound_rate: float | None = None
    constants: dict = field(default_factory=dict)
    errata: str = ""
    start: str = "config"
    theta0: list = field(default_factory=list)
    note: str = ""
    kind: str = "flow"                 # "flow" | "descent" | "constants"
    t: np.ndarray | None = field(default=None, repr=False)
    observed: np.ndarray | None = field(default=None, repr=False)
    bound: np.ndarray | None = field(default=None, repr=False)

    @property
    def hypotheses_hold(self) -> bool:
        return bool(all(v is True for v in self.hypotheses.values()))

    @property
    def holds(self):
        """Whether the conclusion was met where checked (True/False), None if undecided —
        regardless of the hypotheses (the verdict weighs those)."""
        return self.met

    @property
    def max_ratio(self):
        return self.worst

    @property
    def rate_ratio(self):
        if self.fitted_rate is None or not self.bound_rate or not np.isfinite(self.bound_rate):
            return None
        return self.fitted_rate / self.bound_rate

    def to_dict(self) -> dict:
        return jsonable({
            "theorem": self.theorem, "form": self.form, "quantity": self.quantity,
            "verdict": self.verdict, "reason": self.reason, "start": self.start,
            "run": self.kind, "hypotheses_hold": self.hypotheses_hold,
            "hypotheses": self.hypotheses, "holds": self.holds, "max_ratio": self.worst,
            "at": self.at, "resolution": self.resolution, "fitted_rate": self.fitted_rate,
            "bound_rate": self.bound_rate, "rate_ratio": self.rate_ratio,
            "constants": self.constants, "errata": self.errata,
            "theta0": [float(v) for v in self.theta0], "note": self.note},
            nonfinite=lambda v: repr(float(v)))


BoundCheck = Check  # 0.2 name
