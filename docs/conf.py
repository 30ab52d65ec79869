"""Sphinx configuration of the mne-m2s documentation.

Build (offline, warnings are errors, every ``plot_*.py`` example executed)::

    pip install -e ".[docs]"
    python -m sphinx -W -b html docs docs/_build/html

Environment variables:

* ``MNE_M2S_DOCS_INTERSPHINX=1`` links to the Python, NumPy, scikit-learn,
  MNE, PyTorch ... documentation through intersphinx (needs the network at
  build time; off by default so that the build works offline).
  ``MNE_M2S_DOCS_INTERSPHINX=/some/dir`` uses local inventories instead
  (``/some/dir/<name>.inv``, names as in ``intersphinx_mapping``), offline.
* ``MNE_M2S_DOCS_PLOT=0`` builds the gallery without executing the examples
  (quick layout checks; the published build always executes them).
* ``MNE_M2S_DOCS_EXAMPLES=regex`` executes only the ``plot_*.py`` examples whose
  path matches ``regex`` (e.g. while writing one); the others are built without
  running.
"""

import os
import re
import sys
import warnings
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # document this checkout, not another installed copy
sys.path.insert(0, str(HERE / "sphinxext"))

os.environ.setdefault("MPLBACKEND", "Agg")

import mne_m2s  # noqa: E402

# -- project ----------------------------------------------------------------
project = "mne-m2s"
author = "mne-m2s developers"
copyright = f"{date.today().year}, {author}"  # noqa: A001
release = mne_m2s.__version__
version = release

# -- general ----------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
_INTERSPHINX = os.environ.get("MNE_M2S_DOCS_INTERSPHINX", "0")
if _INTERSPHINX not in ("", "0"):
    extensions.append("sphinx.ext.intersphinx")

templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "Thumbs.db",
    ".DS_Store",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
    "auto_examples/*.codeobj.json",
    "auto_examples/*.md5",
]
source_suffix = {".rst": "restructuredtext"}
root_doc = "index"
default_role = "py:obj"
nitpicky = False
suppress_warnings = []

# -- autodoc / autosummary / numpydoc ---------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"members": True, "inherited-members": False}
autodoc_typehints = "none"
autodoc_member_order = "bysource"
autoclass_content = "class"

numpydoc_show_class_members = False
numpydoc_show_inherited_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False
# numpydoc's docstring validation is a lint step (not part of the build):
# run ``python -m numpydoc lint`` on the files you change.
numpydoc_validation_checks = set()

# -- HTML -------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"mne-m2s {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_show_sourcelink = False
html_theme_options = {
    "navbar_end": ["navbar-icon-links"],
    "secondary_sidebar_items": ["page-toc"],
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_context = {"default_mode": "light"}
html_sidebars = {"index": [], "install": [], "changelog": [], "references": []}

# -- math -------------------------------------------------------------------
# MathJax is loaded from its CDN by the *reader's* browser; the build itself
# needs no network. The formulas stay readable as TeX without it.
mathjax3_config = {"tex": {"macros": {"R": r"\mathbb{R}"}}}

# -- sphinx-gallery -----------------------------------------------------------
_run = os.environ.get("MNE_M2S_DOCS_PLOT", "1") not in ("", "0")
_only = os.environ.get("MNE_M2S_DOCS_EXAMPLES", "")
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    # plot_*.py run at every build (synthetic data, CPU); noplot_*.py need
    # licensed data: rendered, not executed.
    "filename_pattern": (_only or r"[\\/]plot_") if _run else r"^$",
    "ignore_pattern": r"__init__\.py|[\\/]_",
    "plot_gallery": "True",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "m2s_scraper.ExampleOrder",
    # the unmanaged-Figure scraper runs first: the matplotlib scraper closes pyplot
    # figures, after which they would look unmanaged
    "image_scrapers": ("m2s_scraper.figure_scraper", "matplotlib"),
    "reset_modules": ("matplotlib", "m2s_scraper.reset_seen"),
    "capture_repr": ("_repr_html_", "__repr__"),
    "doc_module": ("mne_m2s",),
    "backreferences_dir": "generated/backreferences",
    "show_memory": False,
    "min_reported_time": 0,
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "matplotlib_animations": False,
}

# -- intersphinx (opt-in) ---------------------------------------------------
intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable", None),
    "scipy": ("https://docs.scipy.org/doc/scipy", None),
    "matplotlib": ("https://matplotlib.org/stable", None),
    "pandas": ("https://pandas.pydata.org/docs", None),
    "sklearn": ("https://scikit-learn.org/stable", None),
    "mne": ("https://mne.tools/stable", None),
    "torch": ("https://docs.pytorch.org/docs/stable", None),
    "skorch": ("https://skorch.readthedocs.io/en/stable", None),
    "braindecode": ("https://braindecode.org/stable", None),
    "moabb": ("https://moabb.neurotechx.com/docs", None),
}
if Path(_INTERSPHINX).is_dir():
    # offline: MNE_M2S_DOCS_INTERSPHINX=/dir holding <name>.inv files (e.g. mne.inv,
    # numpy.inv); projects without a local inventory are not linked.
    intersphinx_mapping = {
        name: (url, str(Path(_INTERSPHINX) / f"{name}.inv"))
        for name, (url, _) in intersphinx_mapping.items()
        if (Path(_INTERSPHINX) / f"{name}.inv").exists()
    }

warnings.filterwarnings("ignore", message="Matplotlib is currently using agg")


_ROUTING = re.compile(r"^(set_\w+_request|get_metadata_routing)$")


def _skip_member(app, what, name, obj, skip, options):
    # scikit-learn generates set_<method>_request methods on every estimator
    # subclass (metadata routing); their docstrings link into scikit-learn's own
    # glossary. They are documented by scikit-learn, not here.
    if _ROUTING.match(name):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_member)
