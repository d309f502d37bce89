"""Traced programs kept across processes (flowdeq/_programs.py).

Three fresh processes: the first traces and stores, the second must load every program
(nothing traced) and give bit-identical results to a third that runs with no cache at all.
In-process tests check that the key separates what it must, that a damaged file is refused and
that arguments the key cannot describe fall back to plain jit."""
import json
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

import flowdeq as fd
from flowdeq import _programs

RUN = textwrap.dedent("""
    import hashlib, json, sys
    if sys.argv[2] == "jax-first":  # flowdeq then switches x64 itself instead of by environment
        import jax
    import numpy as np
    import flowdeq as fd
    from flowdeq import _programs
    if sys.argv[1] != "none":
        fd.enable_compilation_cache(sys.argv[1])
    p = fd.Problem(fd.LinearDEQ(1), fd.LinearTarget([2.0]), fd.Uniform(0, 1, 1, nodes=8))
    s = fd.Problem(fd.SingleIndexDEQ("tanh", 1), fd.SingleIndexTarget([1.0], "tanh"),
                   fd.Uniform(0, 1, 1, nodes=8))
    runs = [fd.gradient_descent(s, [0.1, 0.2], 0.5, 50),
            fd.gradient_flow(p, [0.3, 0.2], 1.0, n_save=11)]
    digest = hashlib.sha256(b"".join(np.ascontiguousarray(a).tobytes() for r in runs
                                     for a in (r.theta, r.risk, r.t))).hexdigest()
    st = _programs.STATS
    print(json.dumps({"digest": digest, "loaded": st.loaded, "compiled": st.compiled,
                      "outcomes": [str(r.outcome) for r in runs]}))
""")


def _run(cache, order="flowdeq-first"):
    env = {k: v for k, v in os.environ.items() if k not in ("FLOWDEQ_NO_CACHE", "JAX_ENABLE_X64")}
    proc = subprocess.run([sys.executable, "-c", RUN, cache, order], capture_output=True,
                          text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_a_later_process_loads_every_program_and_gets_the_same_bits(tmp_path):
    cache = str(tmp_path / "cache")
    # the second process imports JAX before flowdeq: the key must not depend on that order
    first, second, plain = _run(cache), _run(cache, "jax-first"), _run("none")
    # GD and flow solves plus their start checks (margins, start risks)
    assert first["compiled"] >= 2 and first["loaded"] == 0
    # the flow program calls LAPACK (Kvaerno's LU): loading it in a process that never
    # lowered a linear solve would crash without the table being prepared
    assert second["compiled"] == 0 and second["loaded"] == first["compiled"]
    assert first["digest"] == second["digest"] == plain["digest"]
    assert plain["outcomes"] == second["outcomes"]


def _key(*args):
    return _programs._key(_programs._describe, args)


def test_the_key_separates_what_changes_the_program():
    sig = fd.SingleIndexDEQ("sigmoid", 1)
    base = _key(sig, np.zeros((1, 2)), 1e-6, "kvaerno5")
    assert base == _key(fd.SingleIndexDEQ("sigmoid", 1), np.ones((1, 2)), 1e-6, "kvaerno5")
    assert base != _key(fd.SingleIndexDEQ("tanh", 1), np.zeros((1, 2)), 1e-6, "kvaerno5")
    assert base != _key(fd.SingleIndexDEQ("sigmoid", 1, bias=True), np.zeros((1, 2)), 1e-6,
                        "kvaerno5")
    assert base != _key(sig, np.zeros((2, 2)), 1e-6, "kvaerno5")            # shape
    assert base != _key(sig, np.zeros((1, 2), np.int64), 1e-6, "kvaerno5")  # dtype
    assert base != _key(sig, np.zeros((1, 2)), 1e-7, "kvaerno5")            # a static float
    assert base != _key(sig, np.zeros((1, 2)), 1e-6, "tsit5")
    # the position of an array among the arguments is part of the key, not just the count
    assert _key(np.zeros(2), None) != _key(None, np.zeros(2))


def test_code_the_key_cannot_see_is_never_stored():
    custom = fd.Activation.custom(lambda x: x / (1 + abs(x)), lipschitz=1.0, name="softsign")
    with pytest.raises(_programs._Untrusted):
        _programs._describe(fd.SingleIndexDEQ(custom, 1))

    class Mine(fd.AbstractDEQ):
        dim: int = 1
        width: int = 1

        def param_template(self):
            return {"a": ()}

        def layer(self, params, x, z):
            return params["a"] * x

        def margin(self, params):
            return jax.numpy.ones(())

    with pytest.raises(_programs._Untrusted):
        _programs._describe(Mine())


def test_damaged_or_foreign_files_are_refused_and_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setattr(_programs, "_DIR", None)
    monkeypatch.setattr(_programs, "_MEMORY", {})
    p = fd.Problem(fd.SingleIndexDEQ("tanh", 1), fd.SingleIndexTarget([1.0], "tanh"),
                   fd.Uniform(0, 1, 1, nodes=8))
    ref = fd.gradient_descent(p, [0.1, 0.2], 0.5, 20).theta
    _programs.set_program_cache(tmp_path)
    before = _programs.STATS.compiled
    assert np.array_equal(fd.gradient_descent(p, [0.1, 0.2], 0.5, 20).theta, ref)
    assert _programs.STATS.compiled == before + 2  # the start's margin check and the GD scan
    (stored,) = [f for f in tmp_path.glob("*.npz") if "_descend" in str(np.load(f)["meta"])]
    for damage in (b"garbage", stored.read_bytes()[:-100]):
        stored.write_bytes(damage)
        _programs._MEMORY.clear()
        rejected = _programs.STATS.rejected
        assert np.array_equal(fd.gradient_descent(p, [0.1, 0.2], 0.5, 20).theta, ref)
        assert _programs.STATS.rejected == rejected + 1
    # a tracer argument (a call inside another transformation) takes the plain path
    fallback = _programs.STATS.fallback
    jax.vmap(lambda e: _programs.persistent_jit(lambda x: x * e)(jax.numpy.ones(2)))(
        jax.numpy.ones(3))
    assert _programs.STATS.fallback == fallback + 1
