r"""Input laws and their expectation rules.

Every rule yields nodes X (n, d) and weights w (n,), Σw = 1, so that
E[h(X)] ≈ Σᵢ wᵢ h(Xᵢ):

* :class:`Uniform` (box [low, high]^d): Gauss–Legendre tensor quadrature, ``nodes`` per axis.
  Exact for polynomials of degree ≤ 2·nodes − 1 in each coordinate.
* :class:`Gaussian` (N(mean, cov), cov PSD, possibly singular): Gauss–Hermite tensor
  quadrature along the eigenvectors of cov with positive eigenvalue.
* :class:`Empirical` (given samples, or a ``.csv``/``.npy`` file): the exact sample mean.
* :class:`MonteCarlo` (any law above): ``samples`` seeded i.i.d. draws, weights 1/n.
  ``Uniform(...).monte_carlo(1000, seed=0)`` is the paper's "1000 samples from Unif[0, 1]".
"""
from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field

import numpy as np

from ._validate import check_size, integer, reals

__all__ = ["Uniform", "Gaussian", "Empirical", "MonteCarlo", "MAX_QUADRATURE_NODES",
           "MAX_NODES_PER_AXIS"]

MAX_QUADRATURE_NODES = 200_000
# NumPy builds an n-point Gauss rule from an n × n eigenproblem (O(n³): 0.4 s at 1000,
# 16 s at 4000), and beyond a few hundred nodes it gains nothing in float64
MAX_NODES_PER_AXIS = 1000


def _check_total(nodes: int, axes: int):
    # exact integer arithmetic: nodes ** axes overflows int64 long before it is refused
    total = nodes ** axes
    if total > MAX_QUADRATURE_NODES:
        shown = f"{total:,}" if total < 10**12 else f"about 1e{len(str(total)) - 1}"
        raise ValueError(
            f"tensor quadrature with nodes = {nodes} on {axes} axes needs {shown} nodes "
            f"(> {MAX_QUADRATURE_NODES}): lower nodes or use rule = \"monte-carlo\" in high "
            "dimension.")


def _tensor(nodes_1d: list[np.ndarray], weights_1d: list[np.ndarray]):
    total = int(np.prod([len(n) for n in nodes_1d]))
    X = np.array(list(itertools.product(*nodes_1d)), dtype=float).reshape(total, len(nodes_1d))
    W = np.array([np.prod(c) for c in itertools.product(*weights_1d)], dtype=float)
    return X, W / W.sum()


def _check_nodes(nodes):
    n = integer("nodes", nodes, 1)
    if n > MAX_NODES_PER_AXIS:
        raise ValueError(f"nodes is {nodes!r}: give at most {MAX_NODES_PER_AXIS} nodes per axis "
                         "(a Gauss rule costs O(nodes³) to build), or use rule = \"monte-carlo\".")
    return n


class _Law:
    """A law that can be sampled; ``monte_carlo`` turns it into a seeded sample-mean rule."""

    def monte_carlo(self, samples: int, seed: int = 0) -> "MonteCarlo":
        return MonteCarlo(self, samples, seed)


@dataclass(frozen=True)
class Uniform(_Law):
    """X ~ Unif([low, high]^d); ``low``/``high`` scalars or length-d vectors."""

    low: float | tuple = 0.0
    high: float | tuple = 1.0
    dim: int = 1
    nodes: int = 32

    def __post_init__(self):
        d = integer("dim", self.dim, 1)
        check_size("dim", 32.0 * d, "the box's bounds")
        lo, hi = reals("low", self.low), reals("high", self.high)
        for name, a in (("low", lo), ("high", hi)):
            if a.ndim > 1 or a.size not in (1, d):
                raise ValueError(f"{name} has shape {a.shape} but dim = {d}: give one number or "
                                 f"{d} numbers.")
        lo, hi = np.broadcast_to(lo.ravel(), (d,)), np.broadcast_to(hi.ravel(), (d,))
        if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
            raise ValueError("Uniform low/high must be finite numbers.")
        if np.any(hi <= lo):
            raise ValueError(f"Uniform needs high > low in every coordinate (low={lo.tolist()}, "
                             f"high={hi.tolist()}).")
        _check_nodes(self.nodes)
        object.__setattr__(self, "dim", d)

    @property
    def bounds(self):
        d = int(self.dim)
        return (np.broadcast_to(np.asarray(self.low, float), (d,)).copy(),
                np.broadcast_to(np.asarray(self.high, float), (d,)).copy())

    def nodes_weights(self):
        _check_total(int(self.nodes), int(self.dim))
        t, w = np.polynomial.legendre.leggauss(int(self.nodes))
        lo, hi = self.bounds
        xs = [0.5 * (l + h) + 0.5 * (h - l) * t for l, h in zip(lo, hi)]
        return _tensor(xs, [w] * len(xs))

    def sample(self, n: int, rng: np.random.Generator):
        lo, hi = self.bounds
        return rng.uniform(lo, hi, size=(int(n), len(lo)))

    def describe(self) -> dict:
        lo, hi = self.bounds
        return {"law": "uniform", "rule": "quadrature", "low": lo.tolist(), "high": hi.tolist(),
                "dim": int(self.dim), "nodes": int(self.nodes)}


@dataclass(frozen=True, eq=False)
class Gaussian(_Law):
    """X ~ N(mean, cov); cov must be symmetric positive semi-definite."""

    mean: tuple | np.ndarray = (0.0,)
    cov: tuple | np.ndarray = ((1.0,),)
    nodes: int = 20
    _factor: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        mean = np.atleast_1d(reals("mean", self.mean))
        cov = np.atleast_2d(reals("cov", self.cov))
        d = mean.shape[0]
        if mean.ndim != 1:
            raise ValueError(f"mean has shape {mean.shape}: give a vector of length d.")
        if cov.shape != (d, d):
            raise ValueError(f"cov has shape {cov.shape}: give a ({d}, {d}) matrix to match mean.")
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(cov))):
            raise ValueError("Gaussian mean/cov have non-finite entries: give finite numbers.")
        scale = max(1.0, float(np.max(np.abs(cov))))
        if np.max(np.abs(cov - cov.T)) > 1e-12 * scale:
            raise ValueError("cov is not symmetric: pass a symmetric positive semi-definite matrix.")
        lam, V = np.linalg.eigh(0.5 * (cov + cov.T))
        if lam[0] < -1e-12 * scale:
            raise ValueError(
                f"cov is not positive semi-definite (smallest eigenvalue {lam[0]:.3g}): pass a "
                "symmetric positive semi-definite covariance matrix.")
        keep = lam > 1e-14 * scale
        _check_nodes(self.nodes)
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "cov", cov)
        object.__setattr__(self, "_factor", V[:, keep] * np.sqrt(lam[keep]))

    @property
    def dim(self) -> int:
        return int(np.asarray(self.mean).shape[0])

    def nodes_weights(self):
        A = self._factor
        if A.shape[1] == 0:  # degenerate: a point mass at the mean
            return np.asarray(self.mean)[None, :].copy(), np.ones(1)
        _check_total(int(self.nodes), A.shape[1])
        z, w = np.polynomial.hermite_e.hermegauss(int(self.nodes))
        Z, W = _tensor([z] * A.shape[1], [w] * A.shape[1])
        return np.asarray(self.mean)[None, :] + Z @ A.T, W

    def sample(self, n: int, rng: np.random.Generator):
        Z = rng.standard_normal((int(n), self._factor.shape[1]))
        return np.asarray(self.mean)[None, :] + Z @ self._factor.T

    def describe(self) -> dict:
        return {"law": "gaussian", "rule": "quadrature", "mean": np.asarray(self.mean).tolist(),
                "cov": np.asarray(self.cov).tolist(), "nodes": int(self.nodes)}


@dataclass(frozen=True, eq=False)
class Empirical:
    """The empirical law of given samples (n, d); expectations are exact sample means."""

    samples: np.ndarray
    path: str | None = None

    def __post_init__(self):
        where = f" in {self.path}" if self.path else ""
        raw = np.asarray(self.samples)
        if raw.dtype.kind == "c":
            # NumPy's cast to float would drop the imaginary part without an error
            flat = raw.reshape(len(raw), -1) if raw.ndim else raw.reshape(1, 1)
            rows = np.flatnonzero(np.any(flat.imag != 0, axis=1))
            row = f" (first non-zero imaginary part in row {rows[0]}, counting from 0)" if rows.size else ""
            raise ValueError(f"samples{where} are complex{row}: give real numbers.")
        if raw.dtype.kind not in "iuf":
            raise ValueError(f"samples{where} have {raw.dtype} entries: give real numbers (an (n, d) "
                             "table of floats).")
        x = raw.astype(float)
        if x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
            raise ValueError(f"samples{where} have shape {x.shape}: give an (n, d) array with n, d ≥ 1.")
        if not np.all(np.isfinite(x)):
            bad = np.argwhere(~np.isfinite(x))[0]
            raise ValueError(f"samples{where} contain a non-finite value ({x[bad[0], bad[1]]}) at row "
                             f"{bad[0]}, column {bad[1]} (counting from 0): remove or fix it.")
        object.__setattr__(self, "samples", x)

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> "Empirical":
        """Read samples from ``.npy`` or ``.csv`` (comma-separated; UTF-8, a BOM allowed).

        A CSV's first row is a header only when none of its fields is a number; a row that
        mixes numbers and text, a ragged row, a complex or a non-finite value is an error
        naming the file and the line, never a row silently dropped."""
        path = os.fspath(path)
        if not os.path.exists(path):
            raise ValueError(f"data file {path} does not exist: check [data] path.")
        if os.path.isdir(path):
            raise ValueError(f"data file {path} is a directory: give a .csv or .npy file.")
        ext = os.path.splitext(path)[1].lower()
        if ext == ".csv":
            return cls(_read_csv(path), path=path)
        if ext != ".npy":
            raise ValueError(f"malformed data file {path}: unsupported extension {ext!r}; use .csv "
                             "or .npy.")
        with open(path, "rb") as fh:
            magic = fh.read(6)
        if magic != b"\x93NUMPY":  # NumPy would call any other file "pickled data"
            raise ValueError(f"malformed data file {path}: not a NumPy .npy file (no .npy header); "
                             "save one (n, d) array with numpy.save.")
        try:
            x = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as err:  # truncated, or an object array
            reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:120]
            raise ValueError(f"malformed data file {path}: {reason}. Expected an (n, d) array of "
                             "numbers saved with numpy.save.") from None
        if not isinstance(x, np.ndarray):  # an .npz renamed .npy loads as an archive
            raise ValueError(f"malformed data file {path}: not a single array; save one (n, d) "
                             "array with numpy.save.")
        return cls(x, path=path)

    @property
    def dim(self) -> int:
        return int(self.samples.shape[1])

    def nodes_weights(self):
        n = self.samples.shape[0]
        return self.samples.copy(), np.full(n, 1.0 / n)

    def describe(self) -> dict:
        out = {"law": "empirical", "rule": "samples", "n": int(self.samples.shape[0]),
               "dim": self.dim}
        if self.path:
            out["path"] = self.path
        else:
            out["samples"] = self.samples.tolist()
        return out


def _kind(field: str) -> str:
    """"real", "complex" (1+2j, 3j) or "text"."""
    try:
        float(field)
        return "real"
    except ValueError:
        pass
    f = field.strip().lower()
    if f.endswith("j") and any(c.isdigit() for c in f):
        try:
            complex(f)
            return "complex"
        except ValueError:
            pass
    return "text"


def _read_csv(path: str) -> np.ndarray:
    try:
        # utf-8-sig: a BOM (what spreadsheet programs write) is not part of the first field
        with open(path, encoding="utf-8-sig") as fh:
            lines = [(i, ln.strip()) for i, ln in enumerate(fh, 1) if ln.strip()]
    except UnicodeDecodeError:
        raise ValueError(f"malformed data file {path}: not UTF-8 text; give a comma-separated "
                         "table of numbers.") from None
    except OSError as err:
        raise ValueError(f"data file {path} cannot be read: {err.strerror or err}.") from None
    top = lines[0][0] if lines else None
    if lines:
        first = [_kind(v) for v in lines[0][1].split(",")]
        if "real" not in first and "complex" not in first:
            lines = lines[1:]  # a header: no field of it is a number
    rows, width = [], None
    for lineno, ln in lines:
        fields = ln.split(",")
        for col, v in enumerate(fields, 1):
            kind = _kind(v)
            if kind == "complex":
                raise ValueError(f"data file {path} line {lineno}, column {col}: {v.strip()!r} is "
                                 "complex: give real numbers.")
            if kind == "text":
                why = (" (columns are separated by commas)" if any(c in v for c in ";\t ")
                       and v.strip() else
                       " (a header row must hold no numbers)" if lineno == top else "")
                raise ValueError(f"malformed data file {path} line {lineno}, column {col}: "
                                 f"{v.strip()!r} is not a number{why}; give comma-separated "
                                 "numbers.")
        row = [float(v) for v in fields]
        if width is None:
            width = (lineno, len(row))
        elif len(row) != width[1]:
            raise ValueError(f"malformed data file {path} line {lineno} has {len(row)} column(s) "
                             f"but line {width[0]} has {width[1]}: give every row the same columns.")
        bad = [j for j, v in enumerate(row, 1) if not np.isfinite(v)]
        if bad:
            raise ValueError(f"data file {path} line {lineno}, column {bad[0]} is a non-finite "
                             f"value ({fields[bad[0] - 1].strip()}): remove or fix it.")
        rows.append(row)
    if not rows:
        raise ValueError(f"malformed data file {path}: no rows of numbers (shape (0, 0)); give a "
                         "comma-separated (n, d) table.")
    return np.array(rows, dtype=float)


@dataclass(frozen=True, eq=False)
class MonteCarlo:
    """``samples`` i.i.d. draws from ``law`` with ``numpy.random.default_rng(seed)``; weights 1/n."""

    law: Uniform | Gaussian
    samples: int = 1000
    seed: int = 0

    def __post_init__(self):
        n = integer("samples", self.samples, 1)
        seed = integer("seed", self.seed, 0)
        d = int(self.law.dim)
        # the draw (n, d), then X, w and f on the host and again on the device
        check_size("samples", 8.0 * n * (2 * d + 4), f"{n} samples × {d} coordinates")
        object.__setattr__(self, "samples", n)
        object.__setattr__(self, "seed", seed)

    @property
    def dim(self) -> int:
        return int(self.law.dim)

    def draw(self) -> np.ndarray:
        return self.law.sample(int(self.samples), np.random.default_rng(int(self.seed)))

    def nodes_weights(self):
        n = int(self.samples)
        return self.draw(), np.full(n, 1.0 / n)

    def describe(self) -> dict:
        out = self.law.describe()
        out.update(rule="monte-carlo", samples=int(self.samples), seed=int(self.seed))
        out.pop("nodes", None)
        return out
