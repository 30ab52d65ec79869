"""The compiled CPU kernel of the folded STS attention core.

Internal module. :func:`sts_core_cpu` computes what
:func:`mne_m2s.nn._kernels.folded_sts_core` computes, with the fused C kernel
of ``_sts_kernel.c`` when the setting of :func:`mne_m2s.utils.set_cpu_kernels`
allows it and it can run here, else with the PyTorch one.

The C source is compiled on first use, once per shape (electrodes ``C``,
bands ``B``, heads ``H``), by the machine's C compiler, for the machine's CPU
(``-march=native``), into ``default_cache_dir() / "kernels"``; the file name
carries a hash of the source, the flags, the compiler's version and the CPU,
so that a changed source, compiler or CPU (a cluster's shared home folder)
never loads a stale library. Builds go to a temporary file that is moved into
place, so concurrent processes (distributed ranks) cannot load a partial
library. When the process's OpenMP runtime is a ``libgomp`` (torch's Linux
wheels), the kernel is built with ``-fopenmp`` and shares it with torch:
same threads, no oversubscription. Otherwise it runs on a pool of Python
threads (the calls release the GIL).
"""

import ctypes
import hashlib
import os
import platform
import re
import shlex
import shutil
import subprocess
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from ..utils._io import default_cache_dir
from ..utils._kernels import get_cpu_kernels
from ..utils._logging import logger
from ._kernels import folded_sts_core

SOURCE = Path(__file__).with_name("_sts_kernel.c")
#: Flags of every build: no -ffast-math (the process's floating-point state and
#: IEEE semantics stay untouched; the kernel makes no math library calls).
BASE_FLAGS = ("-O3", "-std=gnu11", "-fno-math-errno", "-fno-trapping-math", "-fPIC", "-shared")
#: Target flags, tried in order (x86 and most compilers, then ARM's GCC, then generic).
ARCH_FLAGS = (("-march=native",), ("-mcpu=native",), ())
#: Largest ``C * B`` handled: the backward pass keeps ``C * B`` vectors of 64 bytes
#: on the stack of each thread (256 KiB at this bound).
MAX_TOKENS_X_BANDS = 4096
#: Largest number of heads handled (two ``H * B * B`` vector accumulators per thread).
MAX_HEADS = 64

_lock = threading.Lock()
_libraries = {}
_pools = {}
_logged = set()


class KernelUnavailable(RuntimeError):
    """A compiled library (kernel, caching allocator) cannot run here (the message says why)."""


#: Per language: the variable naming the compiler, then the commands tried.
COMPILERS = {"c": ("CC", ("cc", "gcc", "clang")), "c++": ("CXX", ("c++", "g++", "clang++"))}
#: Flags of C++ builds (the allocator): linked against torch's libc10.
CXX_FLAGS = ("-O2", "-std=c++17", "-fPIC", "-shared")


def find_compiler(language="c"):
    """The compiler command: ``CC`` (``CXX`` for C++), split like a shell, else the usual names.

    C: cc, gcc, clang. C++: c++, g++, clang++.

    Returns
    -------
    command : list of str | None
        None when no compiler is found.
    """
    variable, names = COMPILERS[language]
    value = os.environ.get(variable, "").strip()
    if value:
        command = shlex.split(value)
        path = shutil.which(command[0])
        return [path, *command[1:]] if path else None
    for name in names:
        path = shutil.which(name)
        if path:
            return [path]
    return None


def _torch_flags():
    """C++ flags that build against this process's torch: (compile, link) flags."""
    root = Path(torch.__file__).parent
    include, lib = root / "include", root / "lib"
    if not (include / "c10" / "core" / "Allocator.h").is_file():
        raise KernelUnavailable(f"torch's C++ headers are not installed ({include} has no "
                                f"c10/core/Allocator.h)")
    abi = int(bool(getattr(torch._C, "_GLIBCXX_USE_CXX11_ABI", True)))
    return ((f"-I{include}", f"-D_GLIBCXX_USE_CXX11_ABI={abi}"),
            (f"-L{lib}", "-lc10", f"-Wl,-rpath,{lib}"))


def _run(command, timeout=120):
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def _compiler_version(command):
    try:
        result = _run([*command, "--version"], timeout=30)
    except (OSError, subprocess.SubprocessError) as err:
        raise KernelUnavailable(f"the C compiler {command[0]} does not run: {err}") from err
    lines = (result.stdout or result.stderr).strip().splitlines()
    return lines[0] if lines else command[0]


def _cpu_fingerprint():
    """The CPU model and feature flags (what ``-march=native`` compiles for)."""
    keep = ("model name", "flags", "Features", "CPU part", "CPU implementer")
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fid:
            lines = sorted({line.strip() for line in fid if line.startswith(keep)})
        if lines:
            return "\n".join(lines)
    except OSError:
        pass
    return f"{platform.machine()} {platform.processor()} {platform.platform()}"


def _process_libgomp():
    """Whether the process has a ``libgomp.so.1`` mapped (torch's OpenMP runtime)."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as fid:
            return any(os.path.basename(line.split()[-1]) == "libgomp.so.1"
                       for line in fid if line.rstrip().endswith(".so.1"))
    except OSError:
        return False


def kernel_dir():
    """Folder of the compiled kernels: ``default_cache_dir() / "kernels"``."""
    return default_cache_dir() / "kernels"


def _source_parts(source_path):
    """The bytes of ``source_path`` and of the local headers it includes (``#include "..."``).

    All of them enter the library's cache key, so an edited header rebuilds
    every kernel that includes it.
    """
    parts, todo, seen = [], [source_path], set()
    while todo:
        path = todo.pop(0)
        if path in seen:
            continue
        seen.add(path)
        try:
            text = path.read_bytes()
        except OSError as err:
            kind = "source" if path == source_path else f"header (included by {source_path.name})"
            raise KernelUnavailable(f"the kernel's {kind} {path} cannot be read ({err}): "
                                    f"a broken installation; reinstall mne-m2s") from err
        parts.append(text)
        todo.extend(path.with_name(name.decode())
                    for name in re.findall(rb'^\s*#\s*include\s+"([^"]+)"', text, re.MULTILINE))
    return parts


def _build_library(source_path, stem, defines, what, language="c"):
    """Compile ``source_path`` with ``defines`` into the kernel folder (cached).

    ``language="c++"`` builds against torch's C++ library (its headers, ABI and
    ``libc10``; the cache key includes torch's version), without ``-march``.

    Returns
    -------
    path : Path
    compiler : str
        The compiler's version line.
    """
    if os.name != "posix":
        raise KernelUnavailable(f"compiled kernels are built on POSIX systems only, "
                                f"not on {platform.system()}")
    variable, names = COMPILERS[language]
    command = find_compiler(language)
    if command is None:
        hint = (f"set {variable} to a {language.upper()} compiler" if os.environ.get(variable)
                else "install gcc or clang" if language == "c" else "install g++ or clang++")
        raise KernelUnavailable(f"no {language.upper()} compiler found "
                                f"({', '.join((variable, *names))}); {hint}")
    version = _compiler_version(command)
    if language == "c++":
        include, link = _torch_flags()
        base, archs, openmp = (*CXX_FLAGS, *include), ((),), ()
        linked = f"torch {torch.__version__}"
    else:
        base, archs, link = BASE_FLAGS, ARCH_FLAGS, ()
        openmp = ("-fopenmp",) if _process_libgomp() else ()
        linked = ""
    key = hashlib.sha256()
    for part in (*_source_parts(source_path), repr(base + openmp + link).encode(),
                 " ".join(command).encode(),
                 version.encode(), _cpu_fingerprint().encode(), repr(defines).encode(),
                 linked.encode()):
        key.update(part)
        key.update(b"\0")
    folder = kernel_dir()
    path = folder / f"{stem}_{key.hexdigest()[:20]}.so"
    if path.is_file():
        return path, version
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".so", dir=folder)
        os.close(fd)
    except OSError as err:
        raise KernelUnavailable(f"cannot write to the kernel folder {folder} ({err}); set "
                                f"MNE_M2S_CACHE_DIR to a writable folder") from err
    errors = []
    try:
        for arch in archs:
            args = [*command, *base, *arch, *openmp, *defines, str(source_path), "-o", tmp,
                    *link]
            try:
                result = _run(args)
            except (OSError, subprocess.SubprocessError) as err:
                errors.append(f"{shlex.join(args)}: {err}")
                continue
            if result.returncode == 0:
                os.replace(tmp, path)
                logger.info("Compiled %s: %s", what, path)
                return path, version
            errors.append(f"{shlex.join(args)}:\n{result.stderr.strip()[-2000:]}")
    finally:
        Path(tmp).unlink(missing_ok=True)
    raise KernelUnavailable(f"compiling {what} with {version} failed:\n" + "\n".join(errors))


def _open_library(source_path, stem, defines, what, wrap, language="c"):
    """Build (or find cached) and load a library: ``wrap(path, compiler)``.

    Raises
    ------
    KernelUnavailable
        When it cannot be built or loaded (the message says why).
    """
    path, compiler = _build_library(source_path, stem, defines, what, language)
    try:
        return wrap(path, compiler)
    except OSError as err:
        raise KernelUnavailable(f"cannot load {what} ({path}): {err}") from err


def _split_run(fn, n, threads, args, parts=()):
    """Run ``fn(n0, n1, *args, *part_pointers)`` over ``threads`` ranges of ``range(n)``.

    On a pool of Python threads (the ctypes calls release the GIL); ``parts``
    are per-thread output tensors (part ``k`` goes to range ``k``).
    """
    bounds = [n * k // threads for k in range(threads + 1)]
    jobs = [(bounds[k], bounds[k + 1], *args, *(p[k].data_ptr() for p in parts))
            for k in range(threads)]
    if threads == 1:
        fn(*jobs[0])
        return
    key = (os.getpid(), threads)
    with _lock:
        pool = _pools.get(key)
        if pool is None:
            pool = _pools[key] = ThreadPoolExecutor(threads, "mne_m2s_kernel")
    for future in [pool.submit(fn, *job) for job in jobs]:
        future.result()


class KernelLibrary:
    """A loaded kernel library: ``lib`` (ctypes), ``path``, ``compiler`` and
    ``openmp`` (built with ``-fopenmp``: its ``*_parallel`` entry points exist).

    Subclasses list their C functions in ``SIGNATURES`` (name: argument
    types; all return void). Entry points named ``*_parallel`` exist only in
    OpenMP builds; every other one must exist.
    """

    SIGNATURES = {}

    def __init__(self, path, compiler):
        lib = ctypes.CDLL(str(path))
        self.openmp = False
        for name, argtypes in self.SIGNATURES.items():
            if name.endswith("_parallel") and not hasattr(lib, name):
                continue
            function = getattr(lib, name)
            function.argtypes, function.restype = argtypes, None
            self.openmp |= name.endswith("_parallel")
        self.lib = lib
        self.path = path
        self.compiler = compiler


_PTR, _I64, _I32 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int


class _Library(KernelLibrary):
    """The loaded STS library of one shape."""

    SIGNATURES = {
        "sts_forward": [_I64, _I64] + [_PTR] * 6,
        "sts_backward": [_I64, _I64] + [_PTR] * 10,
        "sts_forward_parallel": [_I64, _I32] + [_PTR] * 6,
        "sts_backward_parallel": [_I64, _I32] + [_PTR] * 10,
    }

    def __init__(self, path, shape, compiler):
        super().__init__(path, compiler)
        self.shape = shape
        self.padded = (shape[0] + 15) // 16 * 16

    def forward(self, xq, xk, a, m, save):
        n, c, b = xq.shape
        h = a.shape[0]
        threads = max(1, min(torch.get_num_threads(), n))
        out = xq.new_empty((n, c, b))
        stats = xq.new_empty((n, h, self.padded)) if save else None
        args = [t.data_ptr() if t is not None else None for t in (xq, xk, a, m, out, stats)]
        if self.openmp:
            self.lib.sts_forward_parallel(n, threads, *args)
        else:
            _split_run(self.lib.sts_forward, n, threads, args)
        return out, stats

    def backward(self, xq, xk, a, m, grad, stats, inputs=True):
        """``dxq, dxk, da, dm``; ``inputs=False``: the weights' only (``None, None, da, dm``)."""
        n, c, b = xq.shape
        h = a.shape[0]
        threads = max(1, min(torch.get_num_threads(), n))
        dxq = torch.empty_like(xq) if inputs else None
        dxk = torch.empty_like(xk) if inputs else None
        da = xq.new_zeros((threads, h, b, b))
        dm = xq.new_zeros((threads, h, b, b))
        args = [t.data_ptr() if t is not None else None
                for t in (xq, xk, a, m, grad, stats, dxq, dxk)]
        if self.openmp:
            self.lib.sts_backward_parallel(n, threads, *args, da.data_ptr(), dm.data_ptr())
        else:
            _split_run(self.lib.sts_backward, n, threads, args, parts=(da, dm))
        return dxq, dxk, da.sum(0), dm.sum(0)


def load_kernel(shape):
    """The compiled kernel for ``shape = (C, B, H)`` (built and cached on first use).

    Raises
    ------
    KernelUnavailable
        When it cannot be built or loaded here (the message says why).
    """
    c, b, h = shape = tuple(int(s) for s in shape)
    return cached_library(shape, lambda: _open_library(
        SOURCE, f"sts_c{c}_b{b}_h{h}", (f"-DSTS_C={c}", f"-DSTS_B={b}", f"-DSTS_H={h}"),
        f"the STS attention kernel for C={c}, B={b}, H={h}",
        lambda path, compiler: _Library(path, shape, compiler)))


def cached_library(key, opener):
    """The library held under ``key`` in this process: ``opener()`` on first use.

    A failure (:class:`KernelUnavailable`) is held too and raised again on
    later calls, without another build.
    """
    with _lock:
        library = _libraries.get(key)
    if library is None:
        try:
            library = opener()
        except KernelUnavailable as err:
            library = err
        with _lock:
            library = _libraries.setdefault(key, library)
    if isinstance(library, KernelUnavailable):
        raise library
    return library


def choose_kernel(feature, load, reason=None):
    """The compiled kernel computing ``feature`` under the current setting, or None.

    None means PyTorch operations: setting ``"torch"``, or ``"auto"`` where the
    compiled kernel cannot run (logged once). Setting ``"compiled"`` raises
    :class:`KernelUnavailable` instead.

    Parameters
    ----------
    feature : str
        What the kernel computes, for the messages ("the STS attention").
    load : callable
        Returns the kernel or raises :class:`KernelUnavailable`.
    reason : str | None
        Why these inputs cannot use the kernel (None: they can).
    """
    kind = get_cpu_kernels()
    if kind == "torch":
        return None
    if reason is None:
        try:
            return load()
        except KernelUnavailable as err:
            reason = str(err)
    if kind == "compiled":
        raise KernelUnavailable(
            f"set_cpu_kernels('compiled') (or MNE_M2S_CPU_KERNELS=compiled) cannot be honoured "
            f"for {feature}: {reason}. Use set_cpu_kernels('auto') or 'torch' to compute "
            f"{feature} with PyTorch operations."
        )
    _log_once(f"{feature[:1].upper()}{feature[1:]} uses PyTorch operations on the CPU: the "
              f"compiled kernel is unavailable ({reason})")
    return None


def kernel_line(load):
    """One line for :func:`mne_m2s.sys_info`: the compiled kernel ``load()`` gives, or why not."""
    kind = get_cpu_kernels()
    if kind == "torch":
        return "torch (set_cpu_kernels('torch'))"
    try:
        kernel = load()
    except KernelUnavailable as err:
        first = str(err).splitlines()[0]
        return f"torch ({first})" if kind == "auto" else f"unavailable: {first}"
    threads = "OpenMP" if kernel.openmp else "Python threads"
    return f"compiled ({kernel.compiler}, {threads})"


def _unsupported(xq, a):
    """Why the compiled kernel cannot take these inputs (None when it can)."""
    if xq.device.type != "cpu":
        return f"it runs on the CPU, the inputs are on {xq.device}"
    allowed = (torch.float32,)
    if torch.is_autocast_enabled("cpu"):
        allowed += (torch.bfloat16, torch.float16)
    if xq.dtype not in allowed or a.dtype not in allowed:
        return (f"it computes in float32 (also under CPU autocast), the inputs are "
                f"{xq.dtype} and {a.dtype}")
    c, b = xq.shape[1:]
    if c * b > MAX_TOKENS_X_BANDS or a.shape[0] > MAX_HEADS:
        return (f"it handles C * B <= {MAX_TOKENS_X_BANDS} and at most {MAX_HEADS} heads, "
                f"got C={c}, B={b}, H={a.shape[0]}")
    return None


def _log_once(message):
    if message not in _logged:
        _logged.add(message)
        logger.info(message)


def kernel_for(xq, a):
    """The compiled kernel to use for these inputs under the current setting, or None.

    None means the PyTorch kernel (see :func:`choose_kernel`).
    """
    return choose_kernel("the STS attention",
                         lambda: load_kernel((xq.shape[1], xq.shape[2], a.shape[0])),
                         _unsupported(xq, a))


def kernel_status(shape=(62, 5, 4)):
    """One line for :func:`mne_m2s.sys_info`: the CPU STS kernel that runs for ``shape``."""
    return kernel_line(lambda: load_kernel(shape))


class CompiledSTSCore(torch.autograd.Function):
    """:class:`~mne_m2s.nn._kernels.FoldedSTSCore`'s function on the compiled kernel."""

    @staticmethod
    def forward(ctx, kernel, xq, xk, a, m):
        out, stats = kernel.forward(xq, xk, a, m, save=True)
        ctx.kernel = kernel
        ctx.save_for_backward(xq, xk, a, m, stats)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        xq, xk, a, m, stats = ctx.saved_tensors
        # the first block's inputs are the data: no input gradients to compute
        inputs = ctx.needs_input_grad[1] or ctx.needs_input_grad[2]
        dxq, dxk, da, dm = ctx.kernel.backward(xq, xk, a, m, grad.contiguous(), stats, inputs)
        return None, dxq, dxk, da, dm


def sts_core_cpu(xq, xk, a, m):
    """``out_n = sum_h softmax(xq_n A_h xk_n^T) xk_n M_h`` on the CPU.

    Parameters
    ----------
    xq, xk : Tensor, shape (N, C, B)
        Query and key/value tokens.
    a, m : Tensor, shape (H, B, B)
        Folded score and value-output matrices (scale included in ``a``).

    Returns
    -------
    out : Tensor, shape (N, C, B)
        float32 under autocast (as :class:`~mne_m2s.nn._kernels.FoldedSTSCore`).
    """
    kernel = kernel_for(xq, a)
    if kernel is None:
        return folded_sts_core(xq, xk, a, m)
    if xq.dtype != torch.float32 or a.dtype != torch.float32:  # CPU autocast
        with torch.autocast("cpu", enabled=False):
            xq, xk, a, m = (t.float() for t in (xq, xk, a, m))
    xq, xk, a, m = (t.contiguous() for t in (xq, xk, a, m))
    if torch.is_grad_enabled() and any(t.requires_grad for t in (xq, xk, a, m)):
        return CompiledSTSCore.apply(kernel, xq, xk, a, m)
    return kernel.forward(xq, xk, a, m, save=False)[0]
