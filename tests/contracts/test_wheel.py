"""The wheel: built for real, installed into a fresh prefix, and JupyterLab lists our extension.

`make pytest` builds the labextension first; the wheel build reuses it (skip-if-exists in
pyproject.toml), so no Node.js runs here, and hatchling comes from the test extra, so no
package index is needed either.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILT = ROOT / "vel_jupyter" / "labextension" / "package.json"


def run(*args: str | Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not BUILT.exists():
        pytest.fail("the labextension is not built: run `make labext` (make pytest does it first)")
    out = tmp_path_factory.mktemp("wheel")
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", out, ROOT)
    [built] = out.glob("vel_jupyter-*.whl")
    return built


def test_the_wheel_ships_the_extension_and_the_widget(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    data = (
        next(n.split("/data/")[0] for n in names if ".data/data/" in n)
        + "/data/share/jupyter/labextensions/vel-jupyter/"
    )
    assert data + "package.json" in names
    assert data + "install.json" in names
    assert any(n.startswith(data + "static/remoteEntry.") for n in names)
    for asset in ("render.js", "render.css"):
        assert f"vel_jupyter/jupyter/static/{asset}" in names
    assert not any(n.startswith("vel_jupyter/labextension/") for n in names), "the extension is shipped once"
    assert not any("node_modules" in n for n in names)
    package = json.loads(zipfile.ZipFile(wheel).read(data + "package.json"))
    assert package["name"] == "vel-jupyter"


def test_after_pip_install_jupyter_labextension_list_shows_it_enabled(wheel: Path, tmp_path: Path) -> None:
    prefix = tmp_path / "prefix"
    # --ignore-installed: without it pip would uninstall the running venv's own (editable) copy first.
    run(sys.executable, "-m", "pip", "install", "--no-deps", "--ignore-installed", "--quiet", "--prefix", prefix, wheel)
    imported = run(sys.executable, "-c", "import vel_jupyter; print(vel_jupyter.__file__)")
    assert str(ROOT) in imported, "the venv's own (editable) install is untouched"
    installed = prefix / "share" / "jupyter" / "labextensions" / "vel-jupyter"
    assert (installed / "package.json").exists()
    # JUPYTER_PATH puts the fresh prefix's share/jupyter ahead of the venv's own copy.
    env = {**os.environ, "JUPYTER_PATH": str(prefix / "share" / "jupyter")}
    listing = run(Path(sys.executable).parent / "jupyter", "labextension", "list", env=env)
    section = listing.split(str(prefix / "share" / "jupyter" / "labextensions"), 1)
    assert len(section) == 2, listing
    first_entry = section[1].strip().splitlines()[0]
    assert "vel-jupyter" in first_entry
    assert "enabled" in first_entry
    assert "OK" in first_entry
    assert "(python, vel-jupyter)" in first_entry  # from install.json
