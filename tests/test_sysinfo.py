"""sys_info and the memory-allocator probe (for bug reports and benchmark figures)."""

import io
import platform

import pytest

import mne_m2s
from mne_m2s.cli import main
from mne_m2s.utils import memory_allocator, sys_info

MAPS = """\
7f0000000000-7f0000001000 r--p 00000000 00:00 0
7f0000001000-7f0000002000 r-xp 00000000 fe:01 1 /usr/lib/x86_64-linux-gnu/libc.so.6
7f0000002000-7f0000003000 r-xp 00000000 fe:01 2 {lib}
7f0000003000-7f0000004000 rw-p 00000000 00:00 0 [heap]
"""


@pytest.mark.parametrize("lib, expected", [
    ("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "jemalloc"),
    ("/opt/conda/lib/libtcmalloc.so", "tcmalloc"),
    ("/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4.5.10", "tcmalloc"),
    ("/home/u/.local/lib/libmimalloc.so.2.1", "mimalloc"),
])
def test_memory_allocator_finds_a_preloaded_malloc(tmp_path, lib, expected):
    maps = tmp_path / "maps"
    maps.write_text(MAPS.format(lib=lib))
    assert memory_allocator(maps) == expected


def test_memory_allocator_without_a_replacement(tmp_path):
    maps = tmp_path / "maps"
    maps.write_text(MAPS.format(lib="/usr/lib/x86_64-linux-gnu/libm.so.6"))
    expected = "glibc" if platform.libc_ver()[0] == "glibc" else "system"
    assert memory_allocator(maps) == expected
    # no memory map to read (macOS, Windows): the platform's own allocator
    assert memory_allocator(tmp_path / "absent") == "system"


def test_sys_info_reports_versions_threads_and_allocator():
    import torch

    out = io.StringIO()
    sys_info(out)
    text = out.getvalue()
    rows = dict(line.split(":", 1) for line in text.splitlines())
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
