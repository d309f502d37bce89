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

__all__ = ["Uniform", "Gaussian", "Empirical", "MonteCarlo", "MAX_QUADRATURE_NODES"]

MAX_QUADRATURE_NODES = 200_000


def _tensor(nodes_1d: list[np.ndarray], weights_1d: list[np.ndarray]):
    total = int(np.prod([len(n) for n in nodes_1d]))
    if total > MAX_QUADRATURE_NODES:
        raise ValueError(
            f"tensor quadrature needs {total} nodes (> {MAX_QUADRATURE_NODES}): lower `nodes` "
            "or use rule='monte-carlo' in high dimension.")
    X = np.array(list(itertools.product(*nodes_1d)), dtype=float).reshape(total, len(nodes_1d))
    W = np.array([np.prod(c) for c in itertools.product(*weights_1d)], dtype=float)
    return X, W / W.sum()


def _check_nodes(nodes):
    if int(nodes) != nodes or nodes < 1:
        raise ValueError(f"nodes is {nodes!r}: give a positive integer number of nodes per axis.")
    return int(nodes)


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
        lo = np.broadcast_to(np.asarray(self.low, float), (int(self.dim),))
        hi = np.broadcast_to(np.asarray(self.high, float), (int(self.dim),))
        if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
            raise ValueError("Uniform low/high must be finite numbers.")
        if np.any(hi <= lo):
            raise ValueError(f"Uniform needs high > low in every coordinate (low={lo.tolist()}, "
                             f"high={hi.tolist()}).")
        _check_nodes(self.nodes)

    @property
    def bounds(self):
        d = int(self.dim)
        return (np.broadcast_to(np.asarray(self.low, float), (d,)).copy(),
                np.broadcast_to(np.asarray(self.high, float), (d,)).copy())

    def nodes_weights(self):
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
        mean = np.atleast_1d(np.asarray(self.mean, float))
        cov = np.atleast_2d(np.asarray(self.cov, float))
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
        x = np.asarray(self.samples, dtype=float)
        if x.ndim == 1:
            x = x[:, None]
        where = f" in {self.path}" if self.path else ""
        if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
            raise ValueError(f"samples{where} have shape {x.shape}: give an (n, d) array with n, d ≥ 1.")
        if not np.all(np.isfinite(x)):
            bad = np.argwhere(~np.isfinite(x))[0]
            raise ValueError(f"samples{where} contain a non-finite value at row {bad[0]}, column "
                             f"{bad[1]}: remove or fix it.")
        object.__setattr__(self, "samples", x)

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> "Empirical":
        """Read samples from ``.npy`` or ``.csv`` (comma-separated; one header line allowed)."""
        path = os.fspath(path)
        if not os.path.exists(path):
            raise ValueError(f"data file {path} does not exist: check [data] path.")
        ext = os.path.splitext(path)[1].lower()
        try:
            if ext == ".npy":
                x = np.load(path, allow_pickle=False)
            elif ext == ".csv":
                with open(path) as fh:
                    lines = [ln.strip() for ln in fh if ln.strip()]
                if lines and not _is_numeric_row(lines[0]):
                    lines = lines[1:]
                rows = [[float(v) for v in ln.split(",")] for ln in lines]
                if len({len(r) for r in rows}) > 1:
                    raise ValueError("rows have different numbers of columns")
                x = np.array(rows, dtype=float)
            else:
                raise ValueError(f"unsupported extension {ext!r}; use .csv or .npy")
        except ValueError as err:
            raise ValueError(f"malformed data file {path}: {err}. Expected an (n, d) table of "
                             "numbers (.csv with comma-separated columns, or .npy).") from None
        except Exception as err:  # unreadable .npy, etc.
            raise ValueError(f"malformed data file {path}: {err}.") from None
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


def _is_numeric_row(line: str) -> bool:
    try:
        [float(v) for v in line.split(",")]
        return True
    except ValueError:
        return False


@dataclass(frozen=True, eq=False)
class MonteCarlo:
    """``samples`` i.i.d. draws from ``law`` with ``numpy.random.default_rng(seed)``; weights 1/n."""

    law: Uniform | Gaussian
    samples: int = 1000
    seed: int = 0

    def __post_init__(self):
        if int(self.samples) != self.samples or self.samples < 1:
            raise ValueError(f"samples is {self.samples!r}: give a positive integer.")

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
