"""sys_info and the memory-allocator probe (for bug reports and benchmark figures)."""

import io
import os
import platform

import pytest

import mne_m2s
from mne_m2s.cli import main
from mne_m2s.utils import memory_allocator, sys_info
from mne_m2s.utils._malloc import _allocator_at

MAPS = """\
7f0000000000-7f0000001000 r--p 00000000 00:00 0
7f0000001000-7f0000002000 r-xp 00000000 fe:01 1    /usr/lib/x86_64-linux-gnu/libc.so.6
7f0000002000-7f0000003000 r-xp 00000000 fe:01 2    {lib}
7f0000003000-7f0000004000 rw-p 00000000 00:00 0    [heap]
""".splitlines(keepends=True)
IN_LIBC, IN_LIB, IN_HEAP = 0x7F0000001800, 0x7F0000002800, 0x7F0000003800


@pytest.mark.parametrize("lib, expected", [
    ("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "jemalloc"),
    ("/opt/conda/lib/libtcmalloc.so", "tcmalloc"),
    ("/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4.5.10", "tcmalloc"),
    ("/home/u/.local/lib/libmimalloc.so.2.1", "mimalloc"),
])
def test_allocator_is_the_library_that_provides_malloc(lib, expected):
    maps = [line.format(lib=lib) for line in MAPS]
    assert _allocator_at(maps, IN_LIB) == expected
    # the same library loaded by a package for its own use, malloc still glibc's
    assert _allocator_at(maps, IN_LIBC) == "glibc"
    assert _allocator_at(maps, IN_HEAP) == "[heap]"
    assert _allocator_at(maps, 0x10) == "system"


def test_memory_allocator_of_this_process():
    name = memory_allocator()
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        if not os.environ.get("LD_PRELOAD"):
            assert name == "glibc"
        else:  # a developer's preloaded allocator is named
            assert name in {"glibc", "jemalloc", "tcmalloc", "mimalloc"}
    else:
        assert isinstance(name, str) and name


def test_sys_info_reports_versions_threads_and_allocator():
    import torch

    out = io.StringIO()
    sys_info(out)
    rows = dict(line.split(":", 1) for line in out.getvalue().splitlines())
    rows = {k.strip(): v.strip() for k, v in rows.items()}
    assert rows["mne-m2s"] == mne_m2s.__version__
    assert rows["torch"].split("+")[0] == torch.__version__.split("+")[0]
    assert rows["torch threads"].startswith(f"{torch.get_num_threads()} intra-op")
    assert rows["memory allocator"] == memory_allocator()
    assert rows["CPU kernels"] == torch.backends.cpu.get_cpu_capability()
    assert mne_m2s.sys_info is sys_info


def test_cli_sys_info(capsys):
    assert main(["sys-info"]) == 0
    out = capsys.readouterr().out
    assert "memory allocator:" in out and "torch threads:" in out
