r"""Conservation laws of the gradient flow, found numerically (not hard-coded).

A function h(θ) is a conservation law of the model when it is constant along the gradient
flow θ′ = −∇R_D(θ) of **every** dataset D, i.e.

    ∇h(θ) · ∇R_D(θ) = 0      for all θ in the well-posed set and all D.         (★)

For the paper's linear DEQ, Thm 3.1 gives one: w(θ) = ‖θ₁‖² + (θ₂ − 1)².

**The search** (:func:`find_conservation_laws`).  Write h = Σⱼ cⱼ mⱼ(θ) over the monomials
mⱼ of the flat θ of degree 1 … ``degree`` (a constant is always conserved and is left out).
(★) is linear in c: every pair (θ, D) gives one row

    M[(θ, D), j] = ∇mⱼ(θ) · ∇R_D(θ) / ‖∇R_D(θ)‖,

so the laws of degree ≤ k are the null space of M.  θ is drawn at random inside the
well-posed set (margin(θ) > ``margin_min``), D is a small random dataset: random inputs
x ~ N(0, I) *and* random targets y ~ N(0, 1), unrelated to any model or target, so a law
found cannot depend on a particular target.  ∇R_D is the model's own ``risk_and_grad``
(the gradient the flow and GD integrate, closed-form overrides included) on arrays built by
``Problem``'s helper, so the moments Σ, b, φ*, R* the closed forms read are consistent.  The
columns are scaled to unit norm (a diagonal change of basis: the null space maps back
exactly) and the null space is read off the SVD.

**The rank tolerance.**  In exact arithmetic a law gives a zero singular value.  Computed,
each row carries the relative error δ of ∇R_D (≈1e-16 for closed forms and linear solves,
≤1e-10 for a certified Newton equilibrium, typically ~1e-14), so by Weyl's inequality the
null singular values sit at ~δ·‖M‖ — between the round-off floor ε_mach·max(N, J)·‖M‖ and
~1e-10·‖M‖ — while a non-law keeps its singular value at the size of its signal.  The
nullity is therefore placed at the **largest gap** s_r / s_{r+1} of the spectrum among the
splits whose dropped values are all ≤ ``null_max``·s₁ (default 1e-8: at least 100× above
the worst certified row error); a gap below ``gap_min`` (1e3) is reported as ambiguous.
The result records the whole spectrum, the gap, the floor and the split, so the choice is
visible (``LawSearch.spectra``; :func:`flowdeq.plot.conservation.spectrum_figure`).

**Readable laws.**  The null basis is put in reduced row echelon form with the monomials in
graded order (highest degree first), then every coefficient within 1e-9 of a fraction
with denominator ≤ 24 is snapped to it; the snapped law is kept only if its residual stays
below ``null_max`` (``Law.exact``).  A quadratic law with a diagonal quadratic part is also
printed with its squares completed (‖θ₁‖² + (θ₂ − 1)² − 1 for Thm 3.1).

**How many are independent.**  Degree by degree, a law joins the *generators* only when it
raises the rank of the gradients of the laws kept so far (functional independence), so
h and h² count once.  Two independent counts bound it: p − r(θ), with r(θ) the rank of the
span of ∇R_D(θ) over datasets at one θ (no law can have a gradient inside that span), and
the symbolic Lie-algebra rank of Marcotte, Gribonval & Peyré, "Abide by the law and follow
the flow: conservation laws for gradient flows", NeurIPS 2023 (:func:`lie_algebra_count`).
Where r(θ) = p at the sampled θ there is no conservation law of any form (polynomial or
not) on that region.

**Verification.**  :meth:`LawSearch.check_flow` measures each law's drift along gradient
flows of real problems (independent of the datasets used in the search);
:meth:`LawSearch.check_descent` checks GD's exact counterpart: since ∇h(θ)·g = 0,

    h(θ − ηg) − h(θ) = Σ_{k≥2} (−η)ᵏ/k! · Dᵏh(θ)[g, …, g]    (= (η²/2)·gᵀ∇²h g for a quadratic),

which is eq. (8) of the paper for Thm 3.1's w.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from fractions import Fraction

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..models.base import AbstractDEQ
from ..problem import _arrays, _margins

__all__ = ["Law", "LawSearch", "find_conservation_laws", "monomial_exponents", "recognise",
           "lie_algebra_count", "linear_deq_predictor"]

_SUP = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
_PRETTY = {"theta1": "θ1", "theta2": "θ2"}


# ------------------------------------------------------------------------------ monomials
def monomial_exponents(p: int, degree: int) -> np.ndarray:
    """Exponents (J, p) of every monomial in p variables of degree 1 … ``degree``, highest
    degree first and lexicographic (θ₁ before θ₂) within a degree."""
    rows = []
    for k in range(degree, 0, -1):
        for combo in itertools.combinations_with_replacement(range(p), k):
            e = np.zeros(p, int)
            for i in combo:
                e[i] += 1
            rows.append(e)
    return np.array(rows, int).reshape(-1, p)


def _powers(theta, kmax):
    """theta (N, p) → (N, p, kmax + 1) with [..., k] = θᵏ."""
    out = np.ones(theta.shape + (kmax + 1,))
    for k in range(1, kmax + 1):
        out[..., k] = out[..., k - 1] * theta
    return out


def _monomials_and_derivative(theta, u, E):
    """Values mⱼ(θ) and directional derivatives ∇mⱼ(θ)·u, each (N, J), by dual numbers:
    (a + εb)ᵏ = aᵏ + ε·k·aᵏ⁻¹·b, one variable at a time (no division by θᵢ)."""
    N, J = theta.shape[0], E.shape[0]
    kmax = int(E.max()) if E.size else 0
    P = _powers(theta, kmax)
    val = np.ones((N, J))
    der = np.zeros((N, J))
    for i in range(theta.shape[1]):
        k = E[:, i]
        if not k.any():
            continue
        a_k = P[:, i, :][:, k]                                   # θᵢᵏ  (N, J)
        a_km1 = P[:, i, :][:, np.maximum(k - 1, 0)] * k          # k θᵢᵏ⁻¹
        der = der * a_k + val * a_km1 * u[:, i:i + 1]
        val = val * a_k
    return val, der


# ---------------------------------------------------------------------------- the laws
@dataclass
class Law:
    """One conservation law h(θ) = Σ cⱼ θ^{αⱼ} (no constant term).

    ``terms``: list of (coefficient, exponent tuple); ``text``: the expanded polynomial in
    the model's parameter names; ``centred``: squares completed where the quadratic part is
    diagonal (else None); ``residual``: ‖M c‖ / (‖M‖‖c‖) on the search matrix (column-scaled);
    ``exact``: coefficients snapped to small fractions; ``holdout``: max |∇h·ĝ|/‖∇h‖ on
    held-out rows."""

    terms: list
    labels: list
    degree: int
    residual: float
    exact: bool
    holdout: float = float("nan")
    text: str = ""
    centred: str | None = None

    def __post_init__(self):
        self.text = _format(self.terms, self.labels)
        self.centred = _centred(self.terms, self.labels) if self.degree == 2 else None

    def __str__(self):
        return self.text if self.centred is None else f"{self.text}  (= {self.centred})"

    @property
    def exponents(self) -> np.ndarray:
        return np.array([e for _, e in self.terms], int).reshape(len(self.terms), -1)

    @property
    def coefficients(self) -> np.ndarray:
        return np.array([c for c, _ in self.terms], float)

    def __call__(self, theta) -> np.ndarray:
        """h(θ) for θ (..., p) (NumPy)."""
        th = np.asarray(theta, float)
        flat = th.reshape(-1, th.shape[-1])
        val, _ = _monomials_and_derivative(flat, np.zeros_like(flat), self.exponents)
        return (val @ self.coefficients).reshape(th.shape[:-1])

    def rounding_scale(self, theta) -> np.ndarray:
        """Σⱼ |cⱼ θ^{αⱼ}|: the size of the terms whose sum is h, so ε_mach times it is the
        rounding error of evaluating h."""
        th = np.asarray(theta, float)
        flat = th.reshape(-1, th.shape[-1])
        val, _ = _monomials_and_derivative(flat, np.zeros_like(flat), self.exponents)
        return (np.abs(val) @ np.abs(self.coefficients)).reshape(th.shape[:-1])

    def directional(self, theta, u) -> np.ndarray:
        """∇h(θ)·u for θ, u (..., p)."""
        th, uu = np.broadcast_arrays(np.asarray(theta, float), np.asarray(u, float))
        flat, uf = th.reshape(-1, th.shape[-1]), uu.reshape(-1, th.shape[-1])
        _, der = _monomials_and_derivative(flat, uf, self.exponents)
        return (der @ self.coefficients).reshape(th.shape[:-1])

    def gradient(self, theta) -> np.ndarray:
        """∇h(θ), (..., p)."""
        th = np.asarray(theta, float)
        eye = np.eye(th.shape[-1])
        return np.stack([self.directional(th, np.broadcast_to(e, th.shape)) for e in eye], -1)

    def taylor(self, theta, u) -> np.ndarray:
        """Coefficients a_k (..., degree + 1) of the polynomial τ ↦ h(θ + τu) = Σ a_k τᵏ, exactly
        (a_k = Dᵏh(θ)[u, …, u]/k!), by truncated power-series products."""
        th, uu = np.broadcast_arrays(np.asarray(theta, float), np.asarray(u, float))
        flat, uf = th.reshape(-1, th.shape[-1]), uu.reshape(-1, th.shape[-1])
        K = self.degree
        out = np.zeros((flat.shape[0], K + 1))
        for c, e in self.terms:
            series = np.zeros((flat.shape[0], K + 1))
            series[:, 0] = 1.0
            for i, a in enumerate(e):
                if a == 0:
                    continue
                # (θᵢ + τuᵢ)ᵃ = Σ_k C(a, k) θᵢ^{a−k} uᵢᵏ τᵏ
                f = np.zeros((flat.shape[0], K + 1))
                for k in range(a + 1):
                    f[:, k] = math.comb(a, k) * flat[:, i] ** (a - k) * uf[:, i] ** k
                series = np.stack([sum(series[:, j] * f[:, k - j] for j in range(k + 1))
                                   for k in range(K + 1)], axis=1)
            out += c * series
        return out.reshape(th.shape[:-1] + (K + 1,))

    def gd_drift(self, theta, grad, eta) -> np.ndarray:
        """GD's exact change of h, h(θ − ηg) − h(θ), *given* ∇h(θ)·g = 0:
        Σ_{k≥2} a_k (−η)ᵏ with a_k the :meth:`taylor` coefficients along g."""
        a = self.taylor(theta, grad)
        eta = np.asarray(eta, float)[..., None]
        k = np.arange(a.shape[-1])
        return np.sum(np.where(k >= 2, a * (-eta) ** k, 0.0), axis=-1)

    def to_dict(self) -> dict:
        return {"text": self.text, "centred": self.centred, "degree": self.degree,
                "residual": self.residual, "holdout": self.holdout, "exact": self.exact,
                "terms": [[c, list(map(int, e))] for c, e in self.terms]}


def _pretty(label: str) -> str:
    base, _, idx = label.partition("[")
    return _PRETTY.get(base, base) + (f"[{idx}" if idx else "")


def _labels(model) -> list[str]:
    """Readable names of the flat θ entries: the block name alone for a one-entry block
    (θ1 for the paper's d = 1 θ₁), else name[index]."""
    out = []
    for name, (_, shape) in model.layout().items():
        if math.prod(shape) == 1:
            out.append(name)
        else:
            out += [f"{name}[{','.join(map(str, i))}]" for i in np.ndindex(*shape)]
    return out


def _coef_text(c: float, first: bool, monomial: bool) -> str:
    sign = "−" if c < 0 else ("" if first else "+")
    a = abs(c)
    fr = Fraction(a).limit_denominator(24)
    if abs(float(fr) - a) <= 1e-12 * max(1.0, a):
        mag = "" if (fr == 1 and monomial) else (str(fr.numerator) if fr.denominator == 1
                                                    else f"{fr.numerator}/{fr.denominator}")
    else:
        mag = f"{a:.6g}"
    if mag and monomial:
        mag += "·"
    return (f"{sign} " if not first else sign) + mag


def _mono_text(e, labels) -> str:
    parts = []
    for i, a in enumerate(e):
        if a:
            parts.append(_pretty(labels[i]) + (str(a).translate(_SUP) if a > 1 else ""))
    return "·".join(parts)


def _format(terms, labels) -> str:
    out = []
    for n, (c, e) in enumerate(terms):
        out.append(_coef_text(c, n == 0, True) + _mono_text(e, labels))
    return " ".join(out) if out else "0"


def _centred(terms, labels):
    """Σ qᵢ(θᵢ − cᵢ)² + const for a quadratic law with no cross terms (else None)."""
    q, b = {}, {}
    for c, e in terms:
        e = np.asarray(e)
        if e.sum() == 2:
            if e.max() != 2:
                return None
            q[int(np.argmax(e))] = c
        else:
            b[int(np.argmax(e))] = c
    if not set(b) <= set(q):
        return None
    const = 0.0
    parts = []
    for n, i in enumerate(sorted(q)):
        shift = -b.get(i, 0.0) / (2 * q[i])   # q(θ − s)² = qθ² − 2qsθ + qs²
        const -= q[i] * shift ** 2
        name = _pretty(labels[i])
        sq = f"({name} {'−' if shift > 0 else '+'} {_num(abs(shift))})²" if shift else f"{name}²"
        parts.append(_coef_text(q[i], n == 0, True) + sq)
    text = " ".join(parts)
    if abs(const) > 1e-14:
        text += f" {'−' if const < 0 else '+'} {_num(abs(const))}"
    return text


def _num(a: float) -> str:
    fr = Fraction(a).limit_denominator(24)
    if abs(float(fr) - a) <= 1e-12 * max(1.0, a):
        return str(fr.numerator) if fr.denominator == 1 else f"{fr.numerator}/{fr.denominator}"
    return f"{a:.6g}"


# --------------------------------------------------------------------------- the search
class _TableTarget:
    """An arbitrary target: the values y given at the dataset's own inputs (``host`` is only
    ever called by ``Problem``'s helper with those inputs)."""

    coefficients = None

    def __init__(self, y):
        self.y = y

    def host(self, x):
        return self.y


@dataclass
class LawSearch:
    """Result of :func:`find_conservation_laws`.

    ``laws``: the generators — functionally independent laws, lowest degree first (each a
    :class:`Law`); ``by_degree``: per searched degree k, the null-space dimension of the
    degree-≤k polynomials (laws *and* their products), the spectrum, the chosen split and
    its gap, the ε floor; ``pointwise_rank``: min/max over the sampled θ of the rank of
    span{∇R_D(θ)} over datasets (p minus it bounds the number of independent laws);
    ``none_found``: no law up to ``degree``."""

    model: dict
    labels: list
    degree: int
    laws: list
    by_degree: list
    pointwise_rank: tuple
    n_params: int
    rows: int
    dropped_rows: int
    settings: dict = field(default_factory=dict)
    rejected: list = field(default_factory=list)

    @property
    def none_found(self) -> bool:
        return not self.laws

    @property
    def count(self) -> int:
        return len(self.laws)

    @property
    def spectra(self) -> dict:
        return {d["degree"]: np.asarray(d["singular_values"]) for d in self.by_degree}

    def __str__(self) -> str:
        return "\n".join(self.report())

    def report(self) -> list[str]:
        """The result as Markdown lines (what the note and studies print)."""
        p = self.n_params
        lines = [f"model {self.model}: p = {p} parameters, degree ≤ {self.degree}, "
                 f"{self.rows} rows ({self.dropped_rows} dropped: ill-posed or non-finite ∇R)",
                 f"pointwise rank of span{{∇R_D(θ)}}: {self.pointwise_rank[0]}–"
                 f"{self.pointwise_rank[1]} of {p} (so at most {p - self.pointwise_rank[1]} "
                 "independent laws of any form)", "",
                 "| degree ≤ | monomials | null space | functionally independent | s_r/s₁ (last kept) "
                 "| s_{r+1}/s₁ (first dropped) | gap | ε floor | split |",
                 "|---|---|---|---|---|---|---|---|---|"]
        for d in self.by_degree:
            lines.append(
                f"| {d['degree']} | {d['monomials']} | {d['nullity']} | {d['independent']} | "
                f"{_e(d['last_kept'])} | {_e(d['first_dropped'])} | {_e(d['gap'])} | "
                f"{_e(d['floor'])} | {'ambiguous' if d['ambiguous'] else 'clear'} |")
        lines.append("")
        if self.none_found:
            lines.append(f"**No conservation law** of degree ≤ {self.degree}.")
        for n, law in enumerate(self.laws, 1):
            lines.append(f"- h{n} = {law}   (degree {law.degree}, residual {law.residual:.1e}, "
                         f"held-out {law.holdout:.1e}{'' if law.exact else ', coefficients not exact'})")
        if self.rejected:
            lines.append(f"({len(self.rejected)} null vector(s) failed the held-out rows and were "
                         "rejected: raise points.)")
        return lines

    def values(self, theta) -> np.ndarray:
        """All generators at θ (..., p) → (..., count)."""
        return np.stack([law(theta) for law in self.laws], -1) if self.laws else \
            np.zeros(np.shape(theta)[:-1] + (0,))

    def check_flow(self, traj) -> list[dict]:
        """Drift of each law along a flow (one member): max_t |h(θ(t)) − h(θ(0))| relative to
        the rounding scale Σ|terms| at θ(0)."""
        th = np.asarray(traj.theta)
        out = []
        for n, law in enumerate(self.laws, 1):
            h = law(th)
            scale = float(law.rounding_scale(th[:1])[0]) + 1e-300
            out.append({"law": f"h{n}", "text": law.text, "h0": float(h[0]),
                        "max_drift": float(np.max(np.abs(h - h[0]))),
                        "relative_drift": float(np.max(np.abs(h - h[0]))) / scale})
        return out

    def check_descent(self, traj, problem) -> list[dict]:
        """GD's exact counterpart for one GD member: h(θ_{s+1}) − h(θ_s) against
        Σ_{k≥2} a_k(−η)ᵏ (:meth:`Law.gd_drift`) with g = ∇R(θ_s) recomputed.  The residual
        is relative to the rounding scale of h at θ_s, so it should be ~1e-15."""
        th = np.asarray(traj.theta)
        eta = traj.per_member.get("step_size", traj.settings.get("step_size"))
        eta = float(np.asarray(eta).ravel()[0])
        g = np.asarray(jax.vmap(problem.grad)(jnp.asarray(th[:-1])))
        out = []
        for n, law in enumerate(self.laws, 1):
            dh = law(th[1:]) - law(th[:-1])
            pred = law.gd_drift(th[:-1], g, eta)
            scale = law.rounding_scale(th[:-1]) + 1e-300
            res = np.abs(dh - pred) / scale
            out.append({"law": f"h{n}", "text": law.text, "eta": eta,
                        "total_drift": float(law(th[-1]) - law(th[0])),
                        "max_step_drift": float(np.max(np.abs(dh))),
                        "max_residual": float(np.max(res))})
        return out

    def to_dict(self) -> dict:
        by = [{k: (np.asarray(v).tolist() if isinstance(v, np.ndarray) else v)
               for k, v in d.items() if k != "basis"} for d in self.by_degree]
        return {"model": self.model, "labels": self.labels, "degree": self.degree,
                "count": self.count, "laws": [law.to_dict() for law in self.laws],
                "by_degree": by, "pointwise_rank": list(self.pointwise_rank),
                "rows": self.rows, "dropped_rows": self.dropped_rows, "settings": self.settings,
                "rejected": [law.to_dict() for law in self.rejected]}


def _e(x):
    return "—" if x is None or not np.isfinite(x) else f"{x:.1e}"


def _sample_theta(model, n, rng, scale, margin_min):
    """n flat θ ~ N(0, scale²) with margin(θ) > margin_min (rejection)."""
    p = model.n_params
    out, tries = [], 0
    while sum(len(o) for o in out) < n:
        cand = rng.normal(0.0, scale, (max(4 * n, 64), p))
        ok = np.asarray(_margins(model, jax.device_put(cand))) > margin_min
        out.append(cand[ok])
        tries += 1
        if tries > 50:
            raise ValueError(f"fewer than {n} random θ ~ N(0, {scale:g}²) have margin > "
                             f"{margin_min:g}: lower scale or margin_min.")
    return np.concatenate(out)[:n]


_CHUNK = 512  # rows per compiled gradient call (one shape: one compilation per model)


@eqx.filter_jit
def _grad_rows(model, theta, arrays):
    # module level: compiled once per model and reused by later searches of the same model
    return jax.vmap(lambda t, a: model.risk_and_grad(t, a)[1])(theta, arrays)


class _Rows:
    """Normalised gradients ĝ = ∇R_D(θ)/‖∇R_D(θ)‖ over random (θ, D) pairs.

    A pool of ``pool`` random datasets (inputs x ~ N(0, I), targets y ~ N(0, 1) of the
    prediction's shape, ``samples`` points each, arrays built by ``Problem``'s helper so the
    moments the closed forms read are consistent) is drawn once; each θ meets ``datasets``
    of them at random.  Gradients come from the model's ``risk_and_grad`` in fixed chunks
    of ``_CHUNK`` rows (one compilation)."""

    def __init__(self, model, samples, pool, rng):
        self.model, self.rng = model, rng
        d = model.dim
        w = np.full(samples, 1.0 / samples)
        X0 = np.asarray(model.features(rng.normal(size=(samples, d))), float)
        params0 = model.unravel(np.zeros(model.n_params))
        yshape = jax.eval_shape(lambda p, X: model.predict(p, X)[0], params0,
                                jax.ShapeDtypeStruct(X0.shape, X0.dtype)).shape
        arrays = [_arrays(model, _TableTarget(rng.normal(size=yshape)),
                          rng.normal(size=(samples, d)), w) for _ in range(pool)]
        self.pool = jax.tree_util.tree_map(lambda *a: np.stack([np.asarray(x) for x in a]), *arrays)

    def __call__(self, thetas, datasets):
        """(ĝ (N, p), θ (N, p), norms, dropped) for every θ × ``datasets`` random pool members."""
        th = np.repeat(thetas, datasets, axis=0)
        n_pool = self.pool.X.shape[0]
        pick = np.concatenate([self.rng.choice(n_pool, datasets, replace=datasets > n_pool)
                               for _ in range(len(thetas))])
        N = len(th)
        pad = (-N) % _CHUNK
        thp = np.concatenate([th, np.repeat(th[:1], pad, axis=0)])
        pickp = np.concatenate([pick, np.repeat(pick[:1], pad)])
        out = []
        for i in range(0, N + pad, _CHUNK):
            sel = pickp[i:i + _CHUNK]
            arr = jax.tree_util.tree_map(lambda a: jax.device_put(a[sel]), self.pool)
            out.append(np.asarray(_grad_rows(self.model, jax.device_put(thp[i:i + _CHUNK]), arr)))
        G = np.concatenate(out)[:N]
        norms = np.linalg.norm(G, axis=1)
        good = np.all(np.isfinite(G), axis=1) & (norms > 0)
        return G[good] / norms[good, None], th[good], int(np.sum(~good))


def _pointwise_rank(U, TH):
    """Rank of span{ĝ} at each distinct θ (rows grouped by θ)."""
    ranks = []
    for th in np.unique(TH, axis=0):
        Gi = U[np.all(TH == th, axis=1)]
        s = np.linalg.svd(Gi, compute_uv=False)
        ranks.append(int(np.sum(s > 1e-8 * s[0])))
    return ranks


def _split(s, null_max, gap_min):
    """Nullity k from the spectrum s (descending): the largest gap among splits whose dropped
    values are ≤ null_max·s₁.  Returns (k, last_kept, first_dropped, gap, ambiguous), the
    singular values relative to s₁."""
    rel = s / s[0]
    J = rel.size
    best = (0, rel[-1], np.nan, np.nan)
    best_gap = 0.0
    for k in range(1, J):
        kept, dropped = rel[J - k - 1], rel[J - k]
        if dropped > null_max:
            break
        gap = kept / max(dropped, 1e-300)
        if gap > best_gap:
            best_gap, best = gap, (k, kept, dropped, gap)
    k, kept, dropped, gap = best
    return k, float(kept), float(dropped), float(gap), bool(k > 0 and gap < gap_min)


def _rref(A, tol):
    """Reduced row echelon form of A (k, J) with partial pivoting; pivots in column order."""
    A = A.copy()
    k, J = A.shape
    r = 0
    pivots = []
    for j in range(J):
        if r == k:
            break
        i = r + int(np.argmax(np.abs(A[r:, j])))
        if abs(A[i, j]) <= tol:
            continue
        A[[r, i]] = A[[i, r]]
        A[r] /= A[r, j]
        for q in range(k):
            if q != r:
                A[q] -= A[q, j] * A[r]
        pivots.append(j)
        r += 1
    return A[:r], pivots


def _snap(c):
    out = c.copy()
    for j, v in enumerate(c):
        if abs(v) < 1e-10:
            out[j] = 0.0
            continue
        fr = Fraction(float(v)).limit_denominator(24)
        if abs(float(fr) - v) <= 1e-9 * max(1.0, abs(v)):
            out[j] = float(fr)
    return out


def _functional_rank(laws, thetas):
    if not laws:
        return 0
    r = 0
    for th in thetas:
        G = np.stack([law.gradient(th) for law in laws])
        s = np.linalg.svd(G, compute_uv=False)
        r = max(r, int(np.sum(s > 1e-8 * max(s[0], 1e-300))))
    return r


def find_conservation_laws(model: AbstractDEQ, degree: int = 2, *, points: int | None = None,
                           datasets: int | None = None, samples: int = 4, scale: float = 0.7,
                           margin_min: float = 0.2, null_max: float = 1e-8,
                           gap_min: float = 1e3, holdout_max: float = 1e-7,
                           seed: int = 0) -> LawSearch:
    r"""Search the polynomial conservation laws of ``model`` of degree ≤ ``degree``.

    Parameters
    ----------
    model : any :class:`~flowdeq.models.AbstractDEQ`.
    degree : highest total degree searched (1 … 6); every degree k ≤ ``degree`` is solved,
        so the report says at which degree each law first appears.
    points : random well-posed θ (default: enough for 3 rows per unknown at the top degree).
    datasets : random datasets per θ (default p, enough to span {∇R_D(θ)} at each θ).
    samples : points per random dataset (inputs ~ N(0, I), targets ~ N(0, 1)).
    scale : θ ~ N(0, scale²), kept where margin(θ) > ``margin_min``.
    null_max, gap_min : the rank tolerance (module docstring): dropped singular values must
        be ≤ null_max·s₁, and a gap below gap_min is flagged ambiguous.
    holdout_max : a law is kept only if |∇h·ĝ|/‖∇h‖ ≤ this on 16 fresh θ with fresh
        dataset pairings (rows the null space was not computed from); others go to
        ``rejected``.
    seed : of the random θ and datasets.

    Returns
    -------
    :class:`LawSearch` — ``str()`` gives the report; ``laws`` the functionally independent
    generators with readable text, residuals and exactness; ``check_flow``/``check_descent``
    verify them on trajectories.
    """
    if isinstance(degree, bool) or int(degree) != degree or not 1 <= int(degree) <= 6:
        raise ValueError(f"degree is {degree!r}: give an integer from 1 to 6.")
    degree = int(degree)
    if not isinstance(model, AbstractDEQ):
        raise ValueError(f"model is a {type(model).__name__}: give a flowdeq model (an "
                         "AbstractDEQ subclass, e.g. LinearDEQ(1)).")
    p = model.n_params
    E = monomial_exponents(p, degree)
    J = E.shape[0]
    if J > 6000:
        raise ValueError(f"{J} monomials of degree ≤ {degree} in {p} parameters: lower degree "
                         "(the SVD would need more than ~1 GB); use a smaller width or dim.")
    rng = np.random.default_rng(seed)
    datasets = p if datasets is None else int(datasets)
    rows = _Rows(model, int(samples), max(64, 2 * datasets), rng)
    # pilot: the rank r of span{∇R_D(θ)} at one θ bounds what each θ can constrain, so the
    # number of θ is set from it (3 constraints per unknown), not from the row count
    U, TH, dropped = rows(_sample_theta(model, 8, rng, scale, margin_min), max(datasets, p))
    ranks = _pointwise_rank(U, TH)
    r = max(ranks) if ranks else 0
    if r == 0:
        raise ValueError("∇R_D(θ) was zero or not finite at every sampled θ: the model's "
                         "prediction does not depend on θ there; lower scale or margin_min.")
    points = max(24, math.ceil(3 * J / min(r, datasets))) if points is None else int(points)
    U2, TH2, dropped2 = rows(_sample_theta(model, points, rng, scale, margin_min), datasets)
    U, TH, dropped = np.concatenate([U, U2]), np.concatenate([TH, TH2]), dropped + dropped2
    ranks += _pointwise_rank(U2[: 40 * datasets], TH2[: 40 * datasets])
    prank = (min(ranks), max(ranks))
    if len(U) < J:
        raise ValueError(f"only {len(U)} usable rows for {J} unknowns (∇R was not finite at "
                         f"{dropped} rows): raise points or lower scale.")
    # held-out rows (new θ, new pairings) on which every law is re-tested
    UH, THH, _ = rows(_sample_theta(model, 16, rng, scale, margin_min), datasets)

    _, D = _monomials_and_derivative(TH, U, E)           # M[r, j] = ∇m_j(θ_r)·ĝ_r
    check_pts = _sample_theta(model, 6, rng, scale, margin_min)
    by_degree, generators, rejected = [], [], []
    deg_of = E.sum(axis=1)
    for k in range(1, degree + 1):
        cols = np.flatnonzero(deg_of <= k)
        M = D[:, cols]
        cn = np.linalg.norm(M, axis=0)
        cn = np.where(cn > 0, cn, 1.0)
        Ms = M / cn
        _, s, Vt = np.linalg.svd(Ms, full_matrices=False)
        nullity, kept, first, gap, amb = _split(s, null_max, gap_min)
        floor = np.finfo(float).eps * max(Ms.shape)
        entry = {"degree": k, "monomials": int(cols.size), "nullity": int(nullity),
                 "singular_values": s / s[0], "last_kept": kept, "first_dropped": first,
                 "gap": gap, "floor": float(floor), "ambiguous": amb, "independent": 0}
        if nullity:
            Y = Vt[-nullity:].T / cn[:, None]            # back from the scaled columns
            R, _ = _rref(Y.T, 1e-8 * np.max(np.abs(Y)))
            laws_k = []
            for row in R:
                law = _make_law(row, E[cols], Ms, cn, model, null_max)
                if law is not None:
                    laws_k.append(law)
            for law in laws_k:
                # a law must also hold on rows it was not fitted to (an under-sampled search
                # would pass spurious null vectors): |∇h·ĝ| / ‖∇h‖ on the held-out rows
                gh = law.gradient(THH)
                law.holdout = float(np.max(np.abs(np.sum(gh * UH, axis=1))
                                           / np.maximum(np.linalg.norm(gh, axis=1), 1e-300)))
                if law.holdout > holdout_max:
                    rejected.append(law)
                elif _functional_rank(generators + [law], check_pts) > len(generators):
                    generators.append(law)
        entry["independent"] = len(generators)
        by_degree.append(entry)
    settings = {"points": int(points), "datasets": int(datasets), "samples": int(samples),
                "scale": float(scale), "margin_min": float(margin_min), "null_max": null_max,
                "gap_min": gap_min, "holdout_max": holdout_max, "seed": int(seed)}
    return LawSearch(model.describe(), _labels(model), degree, generators, by_degree,
                     prank, p, int(len(U)), dropped, settings, rejected)


def _make_law(row, E, Ms, cn, model, null_max):
    """A Law from an RREF row (coefficients on the monomials E), snapped where exact."""
    row = np.where(np.abs(row) < 1e-12 * np.max(np.abs(row)), 0.0, row)

    def residual(c):
        y = c * cn
        return float(np.linalg.norm(Ms @ y) / (np.linalg.norm(Ms, 2) * np.linalg.norm(y)))

    snapped = _snap(row)
    r_raw, r_snap = residual(row), residual(snapped)
    exact = r_snap <= null_max
    c = snapped if exact else row
    nz = np.flatnonzero(c)
    if nz.size == 0:
        return None
    terms = [(float(c[j]), tuple(int(a) for a in E[j])) for j in nz]
    deg = int(max(sum(e) for _, e in terms))
    return Law(terms, _labels(model), deg, r_snap if exact else r_raw, bool(exact))


# --------------------------------------------------------------- naming what was found
def _upper(M):
    i, j = np.triu_indices(M.shape[-1])
    return M[..., i, j]


def _known_laws(params):
    """Named candidates, chosen by the parameter names present (never by model class); used
    only to *name* what the search found, after it found it."""
    out = {}
    if {"theta1", "theta2"} <= set(params):
        out["Thm 3.1: ‖θ₁‖² + (θ₂ − 1)²"] = lambda p: (np.sum(p["theta1"] ** 2, -1)
                                                        + (p["theta2"] - 1) ** 2)[..., None]
    if {"U", "W"} <= set(params):
        def C(p):
            V = np.eye(p["W"].shape[-1]) - p["W"]
            return _upper(V @ np.swapaxes(V, -1, -2) + p["U"] @ np.swapaxes(p["U"], -1, -2))
        out["C = (I − W)(I − W)ᵀ + UUᵀ"] = C
    if {"W", "v"} <= set(params):
        def Cp(p):
            V = np.eye(p["W"].shape[-1]) - p["W"]
            return _upper(np.swapaxes(V, -1, -2) @ V + p["v"][..., :, None] * p["v"][..., None, :])
        out["C′ = (I − W)ᵀ(I − W) + vvᵀ"] = Cp
    return out


def recognise(search: "LawSearch", model, *, points: int = 200, seed: int = 1) -> dict:
    """Which named laws (Thm 3.1's w; the matrices C, C′ of :mod:`flowdeq.analysis.width`)
    span what the search found.  Each candidate's entries are fitted, at random θ, by
    constants + the found generators (``residual``: worst relative least-squares residual,
    ~1e-15 where the entry is a function in their span); ``explains_all`` says whether the
    matching candidates' entries in turn span every generator (then the search found exactly
    them, nothing else)."""
    rng = np.random.default_rng(seed)
    th = rng.normal(0.0, 0.7, (points, model.n_params))
    params = {k: np.asarray(v) for k, v in model.unravel(th).items()}
    H = np.column_stack([np.ones(points), search.values(th)])
    out, matched = {}, []

    def fit(basis, target):
        coef, *_ = np.linalg.lstsq(basis, target, rcond=None)
        res = np.linalg.norm(target - basis @ coef, axis=0) / np.maximum(
            np.linalg.norm(target - target.mean(0), axis=0), 1e-300)
        return float(np.max(res))

    for name, fn in _known_laws(params).items():
        vals = fn(params)
        r = fit(H, vals)
        out[name] = {"entries": int(vals.shape[1]), "residual": r, "in_span": r < 1e-8}
        if r < 1e-8:
            matched.append(vals)
    if search.laws:
        basis = np.column_stack([np.ones(points)] + matched)
        out["explains_all"] = bool(matched) and fit(basis, search.values(th)) < 1e-8
    else:
        out["explains_all"] = not any(v["in_span"] for v in out.values() if isinstance(v, dict))
    return out


# ------------------------------------------------------------- symbolic cross-check
def linear_deq_predictor(width: int, features: int, output: str = "state", paper: bool = False):
    r"""Symbols (in flat-θ order) and the predictor φ(θ) of a linear DEQ, for
    :func:`lie_algebra_count` (sympy; imported here for import cost).

    ŷ(x) = φ(θ)x̃ with φ = (I − W)⁻¹U (state output, m·d′ entries) or vᵀ(I − W)⁻¹U (readout,
    d′ entries), written as adj(I − W)U / det(I − W); ``paper=True`` is the paper's eq. 2
    (m = 1): θ = (θ₁, θ₂), φ = θ₁/(1 − θ₂).  Flat order follows the models: sorted parameter
    names (U, W[, v]; theta1, theta2), C order within each."""
    import sympy as sp  # import cost: sympy only for the symbolic cross-check

    m, dp = int(width), int(features)
    if paper:
        t1 = sp.symbols(f"t1_0:{dp}")
        t2 = sp.Symbol("t2")
        return list(t1) + [t2], [t / (1 - t2) for t in t1]
    U = sp.Matrix(m, dp, lambda i, j: sp.Symbol(f"U{i}_{j}"))
    W = sp.Matrix(m, m, lambda i, j: sp.Symbol(f"W{i}_{j}"))
    syms = list(U) + list(W)
    V = sp.eye(m) - W
    num, det = V.adjugate() * U, sp.expand(V.det())
    if output == "state":
        phi = [sp.expand(e) / det for e in num]
    elif output == "readout":
        v = sp.Matrix(m, 1, lambda i, j: sp.Symbol(f"v{i}"))
        syms += list(v)
        phi = [sp.expand(e) / det for e in v.T * num]
    else:
        raise ValueError(f"output is {output!r}: use 'state' or 'readout'.")
    return syms, phi


def lie_algebra_count(symbols, phi, *, points: int = 2, max_depth: int = 6, seed: int = 0) -> dict:
    r"""Number of independent conservation laws of ŷ = f(φ(θ), x) by the Lie-algebra rank of
    Marcotte, Gribonval & Peyré (NeurIPS 2023), exactly, in sympy.

    The gradient fields ∇φₖ span the functional space W; every law h has ∇h ⊥ Lie(W)(θ), and
    (at points where the rank is locally constant) there are exactly p − dim Lie(W)(θ)
    independent laws.  φₖ = Pₖ/Qₖ is rational, so the field Qₖ∇Pₖ − Pₖ∇Qₖ = Qₖ²∇φₖ is used:
    a factor that does not vanish on the well-posed set leaves the generated C∞-module, hence
    the pointwise Lie closure, unchanged, and every field is a polynomial (exact arithmetic
    in sympy's sparse rings over ℚ).  W₀ = span W, W_{k+1} = W_k + [W₀, W_k] with
    [X, Y] = (∂Y)X − (∂X)Y; an ℝ-basis of W_k is kept by exact row reduction of the
    coefficients, and dim W_k(θ) is computed exactly at ``points`` random rational θ.  Stops
    when the pointwise dimension did not grow for one depth at every point (their criterion:
    then Lie(W)(θ) = W_k(θ)) or at ``max_depth``.

    Returns ``{"p", "dims" (per depth, per point), "lie_rank", "laws", "stable"}``."""
    import sympy as sp  # import cost: sympy only for the symbolic cross-check
    from sympy.polys.domains import QQ  # import cost (sympy)
    from sympy.polys.matrices import DomainMatrix  # import cost (sympy)
    from sympy.polys.rings import ring  # import cost (sympy)

    syms = list(symbols)
    p = len(syms)
    R, *gens_ = ring(syms, QQ)
    rng = np.random.default_rng(seed)

    def field_of(e):
        P, Q = sp.fraction(sp.cancel(sp.together(e)))
        P, Q = R.from_expr(sp.expand(P)), R.from_expr(sp.expand(Q))
        return tuple(Q * P.diff(x) - P * Q.diff(x) for x in gens_)

    gens = [field_of(f) for f in phi]
    pts = [[QQ(int(rng.integers(-9, 10)), int(rng.integers(2, 8))) for _ in syms]
           for _ in range(points)]

    def independent(fields):
        """An ℝ-basis of span(fields) as polynomial vector fields (exact)."""
        keys = sorted({(i, mo) for F in fields for i in range(p) for mo in F[i].monoms()})
        col = {k: n for n, k in enumerate(keys)}
        rows = []
        for F in fields:
            row = [QQ(0)] * len(keys)
            for i in range(p):
                for mo, c in F[i].items():
                    row[col[(i, mo)]] = c
            rows.append(row)
        if not keys:
            return []
        _, piv = DomainMatrix(rows, (len(rows), len(keys)), QQ).transpose().rref()
        return [fields[i] for i in piv]

    def dim_at(fields):
        out = []
        for pt in pts:
            rows = [[F[i](*pt) if F[i] else QQ(0) for i in range(p)] for F in fields]
            out.append(int(DomainMatrix(rows, (len(rows), p), QQ).rank()) if rows else 0)
        return out

    def bracket(X, Y):
        return tuple(sum((X[j] * Y[i].diff(gens_[j]) - Y[j] * X[i].diff(gens_[j])
                          for j in range(p)), R(0)) for i in range(p))

    basis = independent(gens)
    layer = basis
    dims = [dim_at(basis)]
    stable = False
    for _ in range(max_depth):
        new = [F for F in (bracket(X, Y) for X in gens for Y in layer) if any(F)]
        grown = independent(basis + new)
        layer = [F for F in grown if not any(F is B for B in basis)]
        basis = grown
        dims.append(dim_at(basis))
        if dims[-1] == dims[-2]:
            stable = True
            break
    rank = max(dims[-1])
    return {"p": p, "dims": dims, "lie_rank": rank, "laws": p - rank, "stable": stable}
