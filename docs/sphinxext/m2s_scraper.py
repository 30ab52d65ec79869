"""Sphinx-gallery image scraper for matplotlib figures that pyplot does not manage.

The plotting functions of :mod:`mne_m2s.viz` return standalone
:class:`matplotlib.figure.Figure` objects (no pyplot state), which the default
matplotlib scraper (``plt.get_fignums()``) cannot see. After each code block
this scraper saves every Figure bound to a global name of the example (directly
or inside a list, tuple or dict) that it has not saved before.
"""


from matplotlib.figure import Figure
from sphinx_gallery.scrapers import figure_rst

_SEEN = {}


def _figures_in(value, depth=0):
    if isinstance(value, Figure):
        yield value
    elif depth == 0 and isinstance(value, (list, tuple)):
        for item in value:
            yield from _figures_in(item, depth + 1)
    elif depth == 0 and isinstance(value, dict):
        for item in value.values():
            yield from _figures_in(item, depth + 1)


class FigureScraper:
    """Save the new unmanaged Figures of an example's globals after each block."""

    def __repr__(self):
        return "FigureScraper"

    def __call__(self, block, block_vars, gallery_conf):
        seen = _SEEN.setdefault(str(block_vars["src_file"]), [])
        seen_ids = {id(f) for f in seen}
        new = []
        for name, value in list(block_vars["example_globals"].items()):
            if name.startswith("__"):
                continue
            for fig in _figures_in(value):
                if id(fig) in seen_ids:
                    continue
                # pyplot figures are the matplotlib scraper's (which runs after this
                # one and closes them): remember them so that they are not taken for
                # unmanaged figures in a later block
                managed = getattr(fig.canvas, "manager", None) is not None
                seen.append(fig)
                seen_ids.add(id(fig))
                if not managed:
                    new.append(fig)
        paths = []
        iterator = iter(block_vars["image_path_iterator"])
        for fig in new:
            path = next(iterator)
            fig.savefig(path, dpi=110)
            paths.append(path)
        return figure_rst(paths, gallery_conf["src_dir"])


def reset_seen(gallery_conf, fname):
    """Forget the figures of previous examples (a sphinx-gallery ``reset_modules`` hook)."""
    _SEEN.clear()


figure_scraper = FigureScraper()


#: Gallery order: the learning path; examples not listed follow, by file name.
EXAMPLE_ORDER = (
    "plot_quickstart_epochs.py",
    "plot_raw_to_features.py",
    "plot_cross_modal_synthetic.py",
    "plot_shared_space.py",
    "plot_sts_attention.py",
    "plot_evaluation_ablation.py",
    "plot_save_load.py",
)


class ExampleOrder:
    """Sort key of sphinx-gallery's ``within_subsection_order`` (see EXAMPLE_ORDER)."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __repr__(self):
        return "ExampleOrder"

    def __call__(self, filename):
        name = str(filename).replace("\\", "/").rsplit("/", 1)[-1]
        if name in EXAMPLE_ORDER:
            return f"0-{EXAMPLE_ORDER.index(name):03d}"
        # licensed-data examples (noplot_*) last
        return f"{2 if name.startswith('noplot_') else 1}-{name}"


__all__ = ["ExampleOrder", "FigureScraper", "figure_scraper", "reset_seen"]
