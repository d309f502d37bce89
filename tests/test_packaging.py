"""The built wheel, not the checkout, runs the main job: the studies' configs must travel as
package data (flowdeq/app/configs, read with importlib.resources), and nothing may reach
back into the source tree."""
import os
import pathlib
import subprocess
import sys
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_checkout_configs_are_the_package_data():
    # data/configs is a link to the package's folder, so there is one copy of each config
    link = ROOT / "data" / "configs"
    assert link.resolve() == (ROOT / "flowdeq" / "app" / "configs").resolve()
    assert sorted(p.name for p in link.glob("*.toml"))


@pytest.mark.slow
def test_wheel_runs_the_main_job_outside_the_checkout(tmp_path):
    wheels = tmp_path / "wheels"
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
                           "-w", str(wheels), str(ROOT)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = wheels.glob("flowdeq-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    shipped = {n.rsplit("/", 1)[-1] for n in names if n.startswith("flowdeq/app/configs/")}
    assert shipped == {p.name for p in (ROOT / "flowdeq" / "app" / "configs").glob("*.toml")}

    site = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet",
                           "--target", str(site), str(wheel)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the wheel's copy comes first on the path; run from a folder with no checkout in it
    env = {**os.environ, "PYTHONPATH": str(site), "MPLBACKEND": "Agg", "FLOWDEQ_NO_CACHE": "1"}
    run = lambda *args: subprocess.run([sys.executable, *args], cwd=tmp_path, env=env,
                                       capture_output=True, text=True)
    where = run("-c", "import flowdeq; print(flowdeq.__file__)")
    assert where.stdout.strip().startswith(str(site)), where.stdout + where.stderr
    out = tmp_path / "paper"
    job = run("-m", "flowdeq.app.cli", "study", "paper", "--quick", "--out", str(out))
    assert job.returncode == 0, job.stderr[-3000:]
    files = os.listdir(out)
    assert {"summary.md", "summary.json"} <= set(files)
    assert any(f.endswith(".png") for f in files)
