"""Fault injection into sweep directories: every damaged, foreign or mismatched file is refused
by load_sweep with its name and reason, and moved aside and recomputed by resume to a result
bitwise equal to a clean run."""
import hashlib
import json
import os
import shutil
import warnings

import numpy as np
import pytest

import flowdeq  # noqa: F401  (float64)
from flowdeq import LinearDEQ, LinearTarget, Problem, Uniform
from flowdeq.ensembles.sweep import (SweepChunkWarning, SweepInterrupted, grid_starts, load_sweep,
                                     run_sweep)

KW = dict(kind="descent", step_sizes=[0.05, 0.8], settings={"steps": 20}, chunk_size=4,
          progress=False)
N_CHUNKS = 3  # 9 starts in chunks of 4: the last holds 1 member and 3 padding slots


@pytest.fixture(scope="module")
def problem():
    return Problem(LinearDEQ(1), LinearTarget([2.0]), Uniform(0.0, 1.0, 1, nodes=8))


@pytest.fixture(scope="module")
def starts(problem):
    return grid_starts(problem, (-1.5, 1.5, 3), (-0.8, 2.2, 3))  # none on θ₂ = 1


@pytest.fixture(scope="module")
def ref(problem, starts):
    return run_sweep(problem, starts, None, **KW)


@pytest.fixture(scope="module")
def clean(problem, starts, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("clean") / "sw")
    run_sweep(problem, starts, out, **KW)
    return out


@pytest.fixture(scope="module")
def other_chunk_size(problem, starts, tmp_path_factory):
    """The same problem and starts swept with chunk_size 3: its chunk 0 is foreign here."""
    out = str(tmp_path_factory.mktemp("c3") / "sw")
    run_sweep(problem, starts, out, **dict(KW, chunk_size=3))
    return out


@pytest.fixture(scope="module")
def other_sweep(problem, starts, tmp_path_factory):
    """Same chunk size, another step budget: its chunk 0 has the right shape but another spec."""
    out = str(tmp_path_factory.mktemp("steps21") / "sw")
    run_sweep(problem, starts, out, **dict(KW, settings={"steps": 21}))
    return out


def _bitwise(a, b):
    assert set(a) == set(b)
    for k in a:
        if k == "kind" or a[k] is None:
            assert a[k] == b[k], k
            continue
        x, y = np.asarray(a[k]), np.asarray(b[k])
        assert (x.dtype, x.shape) == (y.dtype, y.shape), k
        assert x.tobytes() == y.tobytes(), k


def _copy(clean, tmp_path):
    out = str(tmp_path / "sw")
    shutil.copytree(clean, out)
    return out


def _chunk(out, i):
    return os.path.join(out, f"chunk_{i:05d}.npz")


def _strip(path):
    """Rewrite a chunk without the integrity fields, as flowdeq 0.2.0 wrote it."""
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files if not k.startswith("_")}
    np.savez(path, **arrays)


# each fault: (how to damage chunk 0, what the one-line reason says)
def _garbage(out, extra):
    with open(_chunk(out, 0), "wb") as fh:
        fh.write(np.random.default_rng(0).bytes(3000))


def _truncate(out, extra):
    with open(_chunk(out, 0), "rb") as fh:
        data = fh.read()
    with open(_chunk(out, 0), "wb") as fh:
        fh.write(data[: len(data) // 2])


def _zero(out, extra):
    open(_chunk(out, 0), "wb").close()


def _swap(out, extra):
    shutil.copyfile(_chunk(out, 1), _chunk(out, 0))


def _edit(out, extra):
    with np.load(_chunk(out, 0)) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["theta_final"][0, 0] += 1e-9  # one value; the old hash fields are kept as they were
    np.savez(_chunk(out, 0), **arrays)


def _cross_chunk_size(out, extra):
    shutil.copyfile(_chunk(extra["c3"], 0), _chunk(out, 0))


def _foreign(out, extra):
    shutil.copyfile(_chunk(extra["steps21"], 0), _chunk(out, 0))


def _stripped(out, extra):
    _strip(_chunk(out, 0))


FAULTS = {
    "garbage": (_garbage, "is not a readable .npz"),
    "truncate": (_truncate, "is not a readable .npz"),
    "zero_byte": (_zero, r"is empty \(0 bytes\)"),
    "swap": (_swap, "holds chunk 1, not chunk 0"),
    "one_value_edited": (_edit, "does not match its content hash"),
    "cross_chunk_size": (_cross_chunk_size, "was written with chunk_size 3 \\(this sweep: 4\\)"),
    "foreign_sweep": (_foreign, "belongs to another sweep"),
    "fields_stripped": (_stripped, "carries no integrity fields"),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_bad_chunk_is_refused_then_moved_aside_and_recomputed(fault, problem, starts, ref, clean,
                                                              other_chunk_size, other_sweep, tmp_path):
    out = _copy(clean, tmp_path)
    damage, reason = FAULTS[fault]
    damage(out, {"c3": other_chunk_size, "steps21": other_sweep})
    name = _chunk(out, 0)
    with pytest.raises(ValueError, match=reason) as err:
        load_sweep(out)
    msg = str(err.value)
    assert name in msg and "--resume" in msg and "\n" not in msg
    ran = []
    with pytest.warns(SweepChunkWarning, match=reason) as rec:
        res = run_sweep(problem, starts, out, resume=True, callback=lambda i, r: ran.append(i), **KW)
    [w] = [w for w in rec if issubclass(w.category, SweepChunkWarning)]
    assert name in str(w.message) and "\n" not in str(w.message)
    assert ran == [0]  # only the bad chunk is recomputed
    assert os.listdir(os.path.join(out, "rejected")) == ["chunk_00000.npz"]
    _bitwise(res, ref)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the repaired directory loads without any warning
        _bitwise(load_sweep(out), ref)


def test_second_rejection_of_the_same_chunk_keeps_the_first(problem, starts, clean, tmp_path):
    out = _copy(clean, tmp_path)
    for _ in range(2):
        _zero(out, None)
        with pytest.warns(SweepChunkWarning):
            run_sweep(problem, starts, out, resume=True, **KW)
    assert sorted(os.listdir(os.path.join(out, "rejected"))) == ["chunk_00000.npz",
                                                                 "chunk_00000.npz.2"]


def test_chunk_fields_on_disk(clean):
    """The documented format, checked against an independent sha256 of the entries."""
    with open(os.path.join(clean, "manifest.json")) as fh:
        man = json.load(fh)
    assert man["chunk_format"] == "flowdeq-chunk/1" and man["n_chunks"] == N_CHUNKS
    for i in range(N_CHUNKS):
        with np.load(_chunk(clean, i)) as z:
            arrays = {k: z[k] for k in z.files}
        assert str(arrays["_format"]) == "flowdeq-chunk/1"
        assert str(arrays["_sweep_hash"]) == man["hash"]
        assert arrays["_chunk_index"].dtype == np.int64 and int(arrays["_chunk_index"]) == i
        assert int(arrays["_chunk_size"]) == 4
        assert arrays["_members"].tolist() == [4 * i, min(4 * i + 4, 9)]
        h = hashlib.sha256()
        for k in sorted(k for k in arrays if k != "_content_hash"):
            a = arrays[k]
            h.update(json.dumps([k, a.dtype.str, list(a.shape)]).encode() + a.tobytes())
        assert str(arrays["_content_hash"]) == h.hexdigest()
    assert not [f for f in os.listdir(clean) if f.endswith(".tmp")]


def test_load_refuses_missing_or_inconsistent_files(clean, tmp_path):
    out = _copy(clean, tmp_path)
    os.remove(_chunk(out, 2))
    with pytest.raises(ValueError, match=r"unfinished: 1 of 3 chunk files missing.*chunk_00002"):
        load_sweep(out)
    out = _copy(clean, tmp_path / "b")
    os.remove(os.path.join(out, "starts.npy"))
    with pytest.raises(ValueError, match=r"starts\.npy is missing: run the sweep again"):
        load_sweep(out)
    np.save(os.path.join(out, "starts.npy"), np.zeros((9, 2)))
    with pytest.raises(ValueError, match=r"starts\.npy does not match the manifest"):
        load_sweep(out)
    os.remove(os.path.join(out, "manifest.json"))
    with pytest.raises(ValueError, match=r"manifest\.json is missing"):
        load_sweep(out)
    out = _copy(clean, tmp_path / "c")
    man = os.path.join(out, "manifest.json")
    with open(man) as fh:
        m = json.load(fh)
    m["spec"]["chunk_size"] = 3  # an edited manifest would merge the chunks wrongly
    with open(man, "w") as fh:
        json.dump(m, fh)
    with pytest.raises(ValueError, match=r"manifest\.json has a spec that does not match its hash"):
        load_sweep(out)


def test_resume_repairs_a_damaged_manifest_and_starts(problem, starts, ref, clean, tmp_path):
    out = _copy(clean, tmp_path)
    with open(os.path.join(out, "manifest.json"), "w") as fh:
        fh.write('{"format": "flowdeq-sw')  # cut short
    with open(os.path.join(out, "starts.npy"), "wb") as fh:
        fh.write(b"\x93NUMPY")
    with pytest.raises(ValueError, match=r"manifest\.json is not readable JSON"):
        load_sweep(out)
    ran = []
    with pytest.warns(SweepChunkWarning) as rec:
        res = run_sweep(problem, starts, out, resume=True, callback=lambda i, r: ran.append(i), **KW)
    named = sorted(os.path.basename(str(w.message).split(" ")[0]) for w in rec
                   if issubclass(w.category, SweepChunkWarning))
    assert named == ["manifest.json", "starts.npy"]
    assert ran == []  # the chunks verified against the new spec hash and were kept
    _bitwise(res, ref)
    _bitwise(load_sweep(out), ref)


class _Killed(BaseException):
    """Stands in for the process being stopped mid-write."""


def _half_then_die(real):
    def write(fh, *args, **kwargs):
        fh.write(b"\x93NUMPY\x01\x00")  # a partial header reaches the file first
        raise _Killed
    return write


def test_kill_during_starts_write_leaves_nothing_and_a_rerun_works(problem, starts, ref, tmp_path,
                                                                    monkeypatch):
    out = str(tmp_path / "sw")
    monkeypatch.setattr(np, "save", _half_then_die(np.save))
    with pytest.raises(_Killed):
        run_sweep(problem, starts, out, **KW)
    monkeypatch.undo()
    assert os.listdir(out) == []  # no partial starts.npy, no temp file, no manifest
    res = run_sweep(problem, starts, out, **KW)  # a plain rerun, not a resume
    _bitwise(res, ref)
    _bitwise(load_sweep(out), ref)


def test_kill_during_a_chunk_write_keeps_earlier_chunks(problem, starts, ref, tmp_path, monkeypatch):
    out = str(tmp_path / "sw")
    real = np.savez
    calls = []

    def savez(fh, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # chunk 1
            return _half_then_die(real)(fh)
        return real(fh, *args, **kwargs)

    monkeypatch.setattr(np, "savez", savez)
    with pytest.raises(_Killed):
        run_sweep(problem, starts, out, **KW)
    monkeypatch.undo()
    assert sorted(f for f in os.listdir(out)) == ["chunk_00000.npz", "manifest.json", "starts.npy"]
    ran = []
    res = run_sweep(problem, starts, out, resume=True, callback=lambda i, r: ran.append(i), **KW)
    assert ran == [1, 2]
    _bitwise(res, ref)


def _make_legacy(out):
    """Turn a directory into what flowdeq 0.2.0 wrote: no chunk_format, chunks without hashes."""
    for i in range(N_CHUNKS):
        if os.path.exists(_chunk(out, i)):
            _strip(_chunk(out, i))
    man = os.path.join(out, "manifest.json")
    with open(man) as fh:
        m = json.load(fh)
    del m["chunk_format"]
    with open(man, "w") as fh:
        json.dump(m, fh, indent=2)


def test_a_0_2_0_directory_loads_and_resumes_with_a_deprecation_warning(problem, starts, ref, clean,
                                                                         tmp_path):
    out = _copy(clean, tmp_path)
    _make_legacy(out)
    with pytest.warns(FutureWarning, match="3 chunk file.*cannot be verified"):
        _bitwise(load_sweep(out), ref)
    os.remove(_chunk(out, 2))
    ran = []
    with pytest.warns(FutureWarning, match="2 chunk file.*cannot be verified"):
        res = run_sweep(problem, starts, out, resume=True, callback=lambda i, r: ran.append(i), **KW)
    assert ran == [2]
    _bitwise(res, ref)
    with np.load(_chunk(out, 2)) as z:
        assert "_content_hash" in z.files  # new chunks are written verifiable
    with pytest.warns(FutureWarning, match="2 chunk file"):
        _bitwise(load_sweep(out), ref)


def test_a_0_2_0_directory_still_refuses_a_chunk_of_another_chunk_size(problem, starts, ref, clean,
                                                                        other_chunk_size, tmp_path):
    """The 585-of-605 case: without hashes the shape and start columns still give it away."""
    out = _copy(clean, tmp_path)
    shutil.copyfile(_chunk(other_chunk_size, 1), _chunk(out, 1))
    _make_legacy(out)
    with pytest.raises(ValueError, match=r"chunk_00001\.npz has 6 rows in .*, a chunk of this "
                                         r"sweep has 8"):
        load_sweep(out)
    ran = []
    with pytest.warns(SweepChunkWarning, match="chunk_00001"), \
            pytest.warns(FutureWarning, match="2 chunk file"):
        res = run_sweep(problem, starts, out, resume=True, callback=lambda i, r: ran.append(i), **KW)
    assert ran == [1]
    _bitwise(res, ref)


def test_interrupted_sweep_still_returns_what_it_wrote(problem, starts, ref, tmp_path):
    out = str(tmp_path / "sw")
    with pytest.raises(SweepInterrupted):
        run_sweep(problem, starts, out, max_chunks=1, **KW)
    with pytest.raises(ValueError, match="unfinished"):
        load_sweep(out)
    _bitwise(run_sweep(problem, starts, out, resume=True, **KW), ref)
