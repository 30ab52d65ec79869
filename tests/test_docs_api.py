"""Every public name of the package appears in the API reference (docs/*.rst).

Public names are the ``__all__`` of each public module. A public module is
``mne_m2s`` or one of its sub-packages / modules whose name has no leading
underscore, except the implementation modules listed in ``INTERNAL`` (their
public names are re-exported by a package, or they are the CLI). A sub-package
without ``__all__`` (``mne_m2s.nn``) contributes its public modules instead; a
module without ``__all__`` contributes the names it defines. A *new* module
fails this test until it is documented in docs/api.rst or listed in
``INTERNAL``.

The reference is read from the reST sources, without building Sphinx: a name
``mod.name`` is documented when it is listed in an ``autosummary`` block under
``.. currentmodule:: mod``, or named by an ``auto*`` directive.
"""

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import mne_m2s

DOCS = Path(__file__).resolve().parents[1] / "docs"

#: Modules that are implementation detail: not walked for public names.
INTERNAL = {
    "mne_m2s.cli",  # the command line, documented in the user guide
    "mne_m2s.classifier",  # M2SClassifier via mne_m2s, PretrainedM2S listed explicitly
    "mne_m2s.modalities",
    "mne_m2s.training",
}

_CURRENTMODULE = re.compile(r"^\.\.\s+(?:py:)?currentmodule::\s*(\S+)\s*$")
_AUTOSUMMARY = re.compile(r"^\.\.\s+autosummary::\s*$")
_AUTODIRECTIVE = re.compile(r"^\.\.\s+auto(?:class|function|data|exception|method)::\s*(\S+)")
_OPTION = re.compile(r"^:[\w-]+:")


def documented_names(rst_files):
    """Fully qualified names listed in autosummary blocks or auto* directives."""
    names = set()
    for path in rst_files:
        module = None
        lines = path.read_text(encoding="utf-8").splitlines()
        i = 0
        while i < len(lines):
            line = lines[i].rstrip()
            m = _CURRENTMODULE.match(line)
            if m:
                module = None if m.group(1) == "None" else m.group(1)
            m = _AUTODIRECTIVE.match(line)
            if m:
                target = m.group(1)
                names.add(target if module is None or "." in target and
                          target.startswith("mne_m2s") else f"{module}.{target}")
            if _AUTOSUMMARY.match(line):
                i += 1
                while i < len(lines) and (not lines[i].strip() or lines[i].startswith(" ")):
                    entry = lines[i].strip()
                    if entry and not _OPTION.match(entry):
                        entry = entry.lstrip("~")
                        names.add(entry if module is None else f"{module}.{entry}")
                    i += 1
                continue
            i += 1
    return names


def _defined_names(module):
    return [
        name for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(obj) or inspect.isfunction(obj))
        and obj.__module__ == module.__name__
    ]


def public_names():
    """``{module: [names]}`` of every public module (see the module docstring)."""
    out = {}

    def visit(modname):
        if modname in INTERNAL:
            return
        module = importlib.import_module(modname)
        is_pkg = hasattr(module, "__path__")
        names = getattr(module, "__all__", None)
        if names is not None:
            out[modname] = [n for n in names if not (n.startswith("__") and n.endswith("__"))]
            if modname != "mne_m2s":
                return  # a package with __all__ re-exports what its modules hold
        elif not is_pkg:
            out[modname] = _defined_names(module)
            return
        if is_pkg:
            for info in pkgutil.iter_modules(module.__path__):
                if not info.name.startswith("_"):
                    visit(f"{modname}.{info.name}")

    visit("mne_m2s")
    return out


def test_parser_reads_autosummary_and_currentmodule(tmp_path):
    rst = tmp_path / "x.rst"
    rst.write_text(
        ".. currentmodule:: pkg.mod\n\n.. autosummary::\n   :toctree: generated/\n\n"
        "   Foo\n   ~bar\n\nText\n\n.. autofunction:: baz\n.. currentmodule:: other\n"
        ".. autosummary::\n\n   Qux\n"
    )
    assert documented_names([rst]) == {"pkg.mod.Foo", "pkg.mod.bar", "pkg.mod.baz", "other.Qux"}


def test_public_names_cover_the_known_modules():
    names = public_names()
    for module in ("mne_m2s", "mne_m2s.datasets", "mne_m2s.features", "mne_m2s.paradigms",
                   "mne_m2s.evaluation", "mne_m2s.viz", "mne_m2s.utils",
                   "mne_m2s.nn.attention"):
        assert names.get(module), f"{module} has no public names"
    assert "M2SClassifier" in names["mne_m2s"]
    assert "STSAttention" in names["mne_m2s.nn.attention"]
    assert "EmotionParadigm" in names["mne_m2s.paradigms"]


@pytest.mark.parametrize("module", sorted(public_names()))
def test_every_public_name_is_in_the_api_reference(module):
    documented = documented_names(sorted(DOCS.glob("**/*.rst")))
    missing = [n for n in public_names()[module] if f"{module}.{n}" not in documented]
    assert not missing, (
        f"Public names of {module} missing from the API reference: {missing}. Add each to "
        f"the autosummary list under '.. currentmodule:: {module}' in docs/api.rst (one line "
        f"per name), or, for an implementation module, add {module!r} to INTERNAL in "
        "tests/test_docs_api.py."
    )


def test_documented_names_exist():
    """Every name the reference lists resolves (a renamed object breaks the build)."""
    documented = documented_names(sorted(DOCS.glob("**/*.rst")))
    documented = {n for n in documented if n.startswith("mne_m2s")}
    assert "mne_m2s.M2SClassifier" in documented
    broken = []
    for name in sorted(documented):
        modname, _, attr = name.rpartition(".")
        try:
            module = importlib.import_module(modname)
            getattr(module, attr)
        except (ImportError, AttributeError):
            broken.append(name)
    assert not broken, f"The API reference lists names that do not exist: {broken}"


def test_package_version_is_mentioned():
    assert "__version__" in (DOCS / "api.rst").read_text(encoding="utf-8")
    assert mne_m2s.__version__
