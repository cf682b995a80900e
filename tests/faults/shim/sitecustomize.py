"""Loaded by the fault-injection tests' subprocesses (PYTHONPATH): counts the file-system
changes a stage makes under REPRO_FAULT_ROOTS (os.replace, rename, fsync, unlink, mkdir,
rmdir, open for writing) and SIGKILLs the process just before the REPRO_FAULT_KILL_AT-th one
(or sends it REPRO_FAULT_SIGNAL instead: TERM, INT), or fails it with ENOSPC
(REPRO_FAULT_ENOSPC_AT); REPRO_FAULT_COUNT_FILE receives the count at exit, REPRO_FAULT_LOG
one line per event (index, call, path). Inert when none is set."""

import os

_ROOTS = [r for r in os.environ.get("REPRO_FAULT_ROOTS", "").split(os.pathsep) if r]
if _ROOTS:
    import atexit
    import errno
    import signal

    _KILL = int(os.environ.get("REPRO_FAULT_KILL_AT") or 0)
    _SIGNAL = getattr(signal, "SIG" + (os.environ.get("REPRO_FAULT_SIGNAL") or "KILL"))
    _NOSPC = int(os.environ.get("REPRO_FAULT_ENOSPC_AT") or 0)
    _COUNT = os.environ.get("REPRO_FAULT_COUNT_FILE")
    _LOG = os.environ.get("REPRO_FAULT_LOG")
    _n = [0]
    _real = {name: getattr(os, name) for name in ("replace", "rename", "fsync", "unlink", "mkdir",
                                                   "rmdir", "open", "write")}

    def _path_of(arg):
        if isinstance(arg, int):
            try:
                return _real_readlink(f"/proc/self/fd/{arg}")
            except OSError:
                return ""
        return os.fspath(arg) if isinstance(arg, (str, bytes, os.PathLike)) else ""

    _real_readlink = os.readlink

    def _mine(path) -> bool:
        path = path.decode() if isinstance(path, bytes) else path
        if not path:
            return False
        path = os.path.abspath(path)
        return any(path.startswith(r) for r in _ROOTS)

    def _event(name, arg):
        if not _mine(_path_of(arg)):
            return
        _n[0] += 1
        if _LOG:
            with open(_LOG, "a") as f:
                f.write(f"{_n[0]}\t{name}\t{_path_of(arg)}\n")
        if _n[0] == _KILL:
            os.kill(os.getpid(), _SIGNAL)
        if _NOSPC and _n[0] >= _NOSPC and name in ("write", "fsync", "open"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), _path_of(arg))

    def _wrap(name):
        real = _real[name]

        def inner(*a, **k):
            if name == "open" and not (a[1] if len(a) > 1 else k.get("flags", 0)) & (
                    os.O_WRONLY | os.O_RDWR | os.O_CREAT):
                return real(*a, **k)  # reading is not a change
            if name == "write" and len(a) > 0:
                _event(name, a[0])
            elif name != "write":
                _event(name, a[0] if a else k.get("path") or k.get("src"))
            return real(*a, **k)
        return inner

    for _name in _real:
        setattr(os, _name, _wrap(_name))
    if _COUNT:
        atexit.register(lambda: open(_COUNT, "w").write(str(_n[0])))
