"""Every declared dependency imports (so ``.ci/run`` fails on a broken install)."""

import importlib
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"

#: Distribution name -> module(s) it provides, where they differ.
MODULES = {
    "scikit-learn": ["sklearn"],
    "dask": ["dask", "dask.distributed"],  # declared as dask[distributed]
    "pydata-sphinx-theme": ["pydata_sphinx_theme"],
    "sphinx-gallery": ["sphinx_gallery"],
}


def _project():
    with open(PYPROJECT, "rb") as fid:
        return tomllib.load(fid)["project"]


def _name(requirement):
    return re.match(r"[A-Za-z0-9_.\-]+", requirement).group(0)


def _resolve(requirements, extras):
    """Requirement strings, with ``mne-m2s[...]`` self-references expanded."""
    out = []
    for req in requirements:
        if _name(req) == "mne-m2s":
            inner = re.search(r"\[(.*)\]", req).group(1)
            for extra in inner.split(","):
                out += _resolve(extras[extra.strip()], extras)
        else:
            out.append(req)
    return out


def _installed_requirements():
    """Core dependencies and those of the ``test`` extra (what the README installs)."""
    project = _project()
    extras = project["optional-dependencies"]
    return _resolve(project["dependencies"], extras) + _resolve(extras["test"], extras)


def _modules(requirement):
    name = _name(requirement)
    return MODULES.get(name, [name.replace("-", "_")])


@pytest.mark.parametrize(
    "module",
    sorted({m for req in _installed_requirements() for m in _modules(req)}),
)
def test_declared_dependency_imports(module):
    # a fresh interpreter: an import that only works because something else was
    # imported first (or a broken torch/torchaudio pair) fails here
    result = subprocess.run(
        [sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"import {module} failed:\n{result.stderr[-3000:]}"


def test_the_test_extra_covers_every_runtime_extra():
    project = _project()
    extras = project["optional-dependencies"]
    test_refs = [r for r in extras["test"] if _name(r) == "mne-m2s"]
    covered = {e.strip() for r in test_refs for e in re.search(r"\[(.*)\]", r).group(1).split(",")}
    assert covered == set(extras) - {"test", "docs"}


def test_braindecode_pair_is_the_pinned_one():
    """The torch / torchaudio versions installed are the pair the extra pins."""
    import torch
    import torchaudio

    pins = {
        _name(r): r.split("==")[1]
        for r in _project()["optional-dependencies"]["braindecode"]
        if "==" in r
    }
    assert set(pins) == {"torch", "torchaudio"}
    assert torch.__version__.split("+")[0] == pins["torch"]
    assert torchaudio.__version__.split("+")[0] == pins["torchaudio"]
    importlib.import_module("braindecode")  # loads torchaudio's library


def test_core_does_not_pin_torch():
    core = _project()["dependencies"]
    torch_req = next(r for r in core if _name(r) == "torch")
    assert "<" not in torch_req and "==" not in torch_req
    assert not any(_name(r) in ("torchaudio", "braindecode") for r in core)
    assert _project()["requires-python"] == ">=3.11"
