r"""The paper's Section 3 (arXiv 2511.16976) as checks that cannot miss.

Every statement — Thm 3.1, Lemma 3.2 (with its explicit β₀), Thms 3.3, 3.4, Lemma 3.5,
Thm 3.6 with Lemma 3.7, Assumptions 1–3, Thm 3.8, Cor. 3.1, Remark 3.1, Thm 3.9 and the
steps of its proof — is checked in its printed and (docs/errata.md) corrected form, with
its hypotheses, along the *whole* solution: a flow at every accepted step end plus a
screened and refined check between them (:mod:`flowdeq.analysis.continuous`), GD at every
iterate.  Each check ends in a verdict — holds / violated / inconclusive / hypothesis
fails / not applicable (:mod:`._verdict`) — with its resolution.  flowdeq's own findings
(docs/findings.md) are rows of form ``flowdeq``.

Modules: ``_verdict`` (the verdict rules and :class:`Check`), ``linear`` (Sec. 3.1),
``single_index`` (Sec. 3.2), ``general`` (model-free: Lyapunov, Lemma 3.5), ``report``
(:func:`check_theorems` on a config, :func:`theory_markdown`), ``findings`` (the studies
behind docs/findings.md).
"""
from ._verdict import (HOLDS, HYPOTHESIS_FAILS, INCONCLUSIVE, NOT_APPLICABLE, VERDICTS,
                       VIOLATED, BoundCheck, Check, decide)
from .general import lemma35, lyapunov, path_lipschitz
from .linear import (lemma32, lemma37, lemma37_constants, lemma37_step_bound, linear_constants,
                     thm31, thm33, thm34, thm36)
from .report import _fmt, check_theorems, not_applicable, theory_markdown
from .single_index import (assumptions, cor31, decrease_rate, nonlinearity_witness, remark31,
                           rho_infimum, single_index_constants, strip_decrease, thm38, thm39)

__all__ = ["Check", "BoundCheck", "decide", "HOLDS", "VIOLATED", "INCONCLUSIVE",
           "HYPOTHESIS_FAILS", "NOT_APPLICABLE", "VERDICTS", "linear_constants",
           "lemma37_constants", "lemma37_step_bound", "single_index_constants", "rho_infimum",
           "decrease_rate", "nonlinearity_witness", "strip_decrease", "thm31", "lemma32", "thm33",
           "thm34", "lemma35", "lemma37", "thm36", "assumptions", "thm38", "cor31", "remark31",
           "thm39", "lyapunov", "path_lipschitz", "check_theorems", "theory_markdown",
           "not_applicable"]
