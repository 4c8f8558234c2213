"""Child processes that die with their parent.

A match worker, or one of ``placematch serve --workers N``'s service processes, must never
outlive the process that started it: an orphaned service process keeps the port, and an
orphaned worker keeps a run "running" that no one is watching. A ``kill -9`` gives the parent no
chance to stop its children, so each child asks the kernel to stop it instead:

* **Linux**: ``prctl(PR_SET_PDEATHSIG, sig)`` (through libc with ctypes), called by the child as
  soon as it runs (``die_with_parent``). The kernel sends ``sig`` when the parent goes.
* **The race**: the parent may die after starting the child and before the child's ``prctl``
  call; the child then already has another parent (init, or a sub-reaper) and the signal will
  never come. So the parent writes its pid in the child's environment (``PARENT_ENV``), and the
  child, right after arming the signal, compares it with ``os.getppid()`` and stops at once
  if they differ. The window is kept short, too: ``command`` starts a Python module through
  this one (``python -m api.process_guard MODULE ARGS``), which arms the signal before the
  module's imports (a match worker's take seconds on a busy machine) and then runs it.
* **The thread**: the kernel's "parent" is the *thread* that started the child, not the whole
  process (prctl(2)): the signal comes when that thread ends. A request's thread is no good (the
  service's thread pool retires idle threads after a few seconds, which would kill a worker in
  mid-solve), so children are started from one thread that lives as long as the process
  (``spawn``).
* **Elsewhere** (macOS, the BSDs: no parent-death signal): a daemon thread in the child polls
  ``os.getppid()`` twice a second and sends ``sig`` to its own process once the parent has
  changed (an orphan is re-parented). Up to half a second late, but never left behind.
* **A backstop**: a child that is sent SIGTERM so it can shut down cleanly (a service process
  finishing its requests and failing its runs) is sent SIGKILL too if it has not gone within
  ``backstop`` seconds, so a shutdown that hangs still frees the port.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import os
import queue
import runpy
import signal
import subprocess
import sys
import threading
import time

PARENT_ENV = "PLACEMATCH_PARENT_PID"  # the pid the child must find as its parent
PR_SET_PDEATHSIG = 1
ORPHAN_POLL_SECONDS = 0.5
ORPHANED_EXIT_CODE = 70  # the parent had gone before the child could follow it


def command(module: str, *args: str) -> list[str]:
    """The command line running ``python -m module args`` that dies with this process from its
    first moment (SIGKILL; give it ``env=child_env(...)``). ``module`` stays a word of the command
    line of its own, so tools that look for it there (``ps``, tests) still find it."""
    return [sys.executable, "-m", "api.process_guard", module, *args]


def child_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) with this process named as the child's parent."""
    out = dict(os.environ if env is None else env)
    out[PARENT_ENV] = str(os.getpid())
    return out


def die_with_parent(sig: int = signal.SIGKILL, *, backstop: float | None = None) -> bool:
    """Have this process sent ``sig`` when its parent dies (see the module's notes); stop now
    if it already has. Only for a process started with ``child_env`` (``PARENT_ENV`` set): one
    started any other way, e.g. by hand, has no parent to follow, and False is returned.

    ``backstop``: seconds after the parent's death at which SIGKILL follows ``sig``."""
    text = os.environ.pop(PARENT_ENV, "")  # not passed on to this process's own children
    if not text.isdigit():
        return False
    parent = int(text)
    armed = _pdeathsig(sig)
    if os.getppid() != parent:  # it died before the signal was armed: the signal will not come
        print(f"placematch (process {os.getpid()}): the process that started this one has already "
              "stopped, so this one stops too.", file=sys.stderr, flush=True)
        os._exit(ORPHANED_EXIT_CODE)
    if not armed or (backstop is not None and sig != signal.SIGKILL):
        threading.Thread(target=_follow, args=(parent, sig, not armed, backstop),
                         name="placematch-parent-watch", daemon=True).start()
    return True


def _pdeathsig(sig: int) -> bool:
    """Arm Linux's parent-death signal; False where there is none (or it could not be set)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _follow(parent: int, sig: int, send: bool, backstop: float | None) -> None:
    """The fallback and the backstop: wait for the parent to go, then signal this process."""
    while os.getppid() == parent:
        time.sleep(ORPHAN_POLL_SECONDS)
    me = os.getpid()
    if send:
        os.kill(me, sig)
    if backstop is not None:
        time.sleep(backstop)
        os.kill(me, signal.SIGKILL)


# --- the parent's side: start children from one long-lived thread -----------------------------


class _Spawner:
    """One daemon thread per process that starts every child (see "The thread" above). It is
    started on first use, and again in a forked copy of the process (threads do not survive a
    fork)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue | None = None
        self._owner: int | None = None  # the pid whose thread it is

    def popen(self, args, **kwargs) -> subprocess.Popen:
        jobs = self._ensure()
        done: concurrent.futures.Future = concurrent.futures.Future()
        jobs.put((args, kwargs, done))
        return done.result()  # raises what Popen raised (OSError when it cannot start)

    def _ensure(self) -> queue.SimpleQueue:
        with self._lock:
            if self._jobs is None or self._owner != os.getpid():
                self._jobs = queue.SimpleQueue()
                self._owner = os.getpid()
                threading.Thread(target=self._run, args=(self._jobs,), name="placematch-spawner",
                                 daemon=True).start()
            return self._jobs

    @staticmethod
    def _run(jobs: queue.SimpleQueue) -> None:
        while True:
            args, kwargs, done = jobs.get()
            try:
                done.set_result(subprocess.Popen(args, **kwargs))
            except BaseException as exc:  # noqa: BLE001 (handed back to the caller; the thread lives on)
                done.set_exception(exc)


_spawner = _Spawner()


def spawn(args, **kwargs) -> subprocess.Popen:
    """``subprocess.Popen(args, **kwargs)``, started from the process's spawning thread, so a
    child that calls ``die_with_parent`` dies with this process and not with the caller's thread.
    Give the child ``env=child_env(...)``."""
    return _spawner.popen(args, **kwargs)


# --- ``placematch serve --workers N``: each service process follows the supervisor ------------


SERVICE_BACKSTOP_SECONDS = 10.0


def service_process_app():
    """The app factory each of ``serve --workers N``'s processes calls (uvicorn starts them). It
    first ties the process to the supervisor: SIGTERM when the supervisor dies, so the process
    shuts down as it would on Ctrl-C (its runs failed with the reason, its workers stopped), and
    SIGKILL if that has not finished within SERVICE_BACKSTOP_SECONDS."""
    die_with_parent(signal.SIGTERM, backstop=SERVICE_BACKSTOP_SECONDS)
    from api.app import app_from_environment

    return app_from_environment()


def _launch(argv: list[str]) -> None:
    """``python -m api.process_guard MODULE ARGS``: tie this process to its parent, then run
    MODULE as ``python -m MODULE ARGS`` would (same process, same pid, its exit code)."""
    if not argv:
        print("usage: python -m api.process_guard MODULE [ARGS...]", file=sys.stderr)
        sys.exit(2)
    die_with_parent(signal.SIGKILL)
    sys.argv = [argv[0], *argv[1:]]
    runpy.run_module(argv[0], run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    _launch(sys.argv[1:])
