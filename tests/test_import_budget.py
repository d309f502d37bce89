"""Each command pays only for what it uses (issue 16's import budget).

One fresh process runs the commands from the least to the most demanding and records, after
each, which heavy modules it has loaded (modules only accumulate, so each step's set must stay
within that step's allowance).  A module added to the wrong import path shows up here as a
named step and module, e.g. "descend loaded diffrax".
"""
import json
import subprocess
import sys
import textwrap

HEAVY = ("jax", "equinox", "diffrax", "optimistix", "lineax", "matplotlib", "scipy", "dask",
         "distributed", "pandas", "xarray", "h5netcdf", "tqdm", "sympy", "torch")

CONFIG = """
[model]
kind = "single-index"
activation = "sigmoid"
[target]
xi = [2.0]
activation = "sigmoid"
[data]
law = "uniform"
low = 0.0
high = 1.0
dim = 1
nodes = 8
[init]
theta0 = [0.1, 0.1]
[flow]
t1 = 1.0
n_save = 5
[descent]
step_size = 0.1
steps = 3
[sweep]
kind = "descent"
theta1 = [-1.0, 1.0, 2]
theta2 = [-0.5, 0.5, 2]
step_sizes = [0.1]
steps = 3
"""

# step → what it may have loaded by then (cumulative)
ALLOWED = {
    "import flowdeq": set(),
    "flowdeq --help": set(),
    "flowdeq study --list": set(),
    # GD runs on JAX alone; the figure it writes is matplotlib's
    "GD script": {"jax", "equinox"},
    "flowdeq descend": {"jax", "equinox", "matplotlib"},
    "flowdeq sweep (GD, no scheduler)": {"jax", "equinox", "matplotlib"},
    # a flow needs diffrax (and optimistix/lineax under it); jaxlib's LAPACK lowering of the
    # Kvaerno stages' linear solves imports scipy
    "flowdeq flow": {"jax", "equinox", "matplotlib", "diffrax", "optimistix", "lineax", "scipy"},
}

SCRIPT = textwrap.dedent("""
    import contextlib, io, json, sys
    HEAVY = {heavy!r}
    cfg, out = sys.argv[1], sys.argv[2]
    def mark(step):
        print(json.dumps([step, [m for m in HEAVY if m in sys.modules]]), flush=True)
    import flowdeq
    mark("import flowdeq")
    from flowdeq.app.cli import main
    with contextlib.redirect_stdout(io.StringIO()):
        main(["--help"])
    mark("flowdeq --help")
    with contextlib.redirect_stdout(io.StringIO()):
        main(["study", "--list"])
    mark("flowdeq study --list")
    import flowdeq as fd
    p = fd.Problem(fd.SingleIndexDEQ("sigmoid", 1), fd.SingleIndexTarget([2.0], "sigmoid"),
                   fd.Uniform(0, 1, 1, nodes=8))
    fd.gradient_descent(p, [0.1, 0.1], 0.1, 3)
    mark("GD script")
    for verb, step in (("descend", "flowdeq descend"),
                       ("sweep", "flowdeq sweep (GD, no scheduler)"), ("flow", "flowdeq flow")):
        with contextlib.redirect_stdout(io.StringIO()):
            assert main([verb, cfg, "--out", f"{{out}}/{{verb}}"]) == 0, verb
        mark(step)
""")


def test_each_command_loads_only_what_it_uses(tmp_path):
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(CONFIG)
    proc = subprocess.run([sys.executable, "-c", SCRIPT.format(heavy=HEAVY), str(cfg),
                           str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = dict(json.loads(line) for line in proc.stdout.splitlines() if line.startswith("["))
    assert list(seen) == list(ALLOWED), seen
    extra = {step: sorted(set(mods) - ALLOWED[step]) for step, mods in seen.items()}
    assert not any(extra.values()), f"loaded beyond the budget: { {k: v for k, v in extra.items() if v} }"
    # the budget is not vacuous: the steps that must compute did load what they need
    assert "jax" in seen["GD script"] and "diffrax" in seen["flowdeq flow"]
