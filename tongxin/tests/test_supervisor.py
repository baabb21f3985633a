"""The supervisor restarts crashed children and stops every child, grandchildren included."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import psutil
import pytest

from tongxin.supervisor import Supervisor

PY = sys.executable


class Lines(io.TextIOBase):
    """A thread-safe text sink that keeps every line written."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._buffer = ""

    def write(self, text: str) -> int:
        with self._lock:
            self._buffer += text
            *complete, self._buffer = self._buffer.split("\n")
            self.lines.extend(complete)
        return len(text)

    def isatty(self) -> bool:
        return False

    def wait_for(self, predicate, timeout_s: float = 10.0) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                for line in self.lines:
                    if predicate(line):
                        return line
            time.sleep(0.02)
        raise AssertionError(f"no matching line in {self.lines!r}")


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_gone(pid: int, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if gone(pid):
            return True
        time.sleep(0.05)
    return False


def fast(out: Lines, **kwargs) -> Supervisor:
    options = dict(initial_backoff_s=0.05, max_backoff_s=0.2, stop_timeout_s=2.0, poll_s=0.02)
    return Supervisor(out=out, **(options | kwargs))


def test_output_is_prefixed_with_the_child_name() -> None:
    out = Lines()
    with fast(out) as sup:
        sup.add("hello", [PY, "-c", "print('bonjour'); import time; time.sleep(30)"])
        line = out.wait_for(lambda line: "bonjour" in line)
    assert line.startswith("hello")
    assert line.split("|", 1)[1].strip() == "bonjour"


def test_a_crashed_child_is_restarted_with_backoff_and_logged() -> None:
    out = Lines()
    with fast(out) as sup:
        child = sup.add("crashy", [PY, "-c", "import sys; print('up', flush=True); sys.exit(3)"])
        deadline = time.monotonic() + 10
        while len(child.pids) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(child.pids) >= 3, "the child was not restarted"
        assert len(set(child.pids)) == len(child.pids)
        out.wait_for(lambda line: "crashy exited with code 3" in line and "restart #" in line)
        assert child.backoff_s > 0.05  # the delay grew
    for pid in child.pids:
        assert wait_gone(pid)


def test_a_child_that_does_not_want_to_restart_stays_down() -> None:
    out = Lines()
    with fast(out) as sup:
        child = sup.add("once", [PY, "-c", "pass"], restart=False)
        out.wait_for(lambda line: "once exited with code 0; not restarting" in line)
        time.sleep(0.2)
        assert len(child.pids) == 1


def test_stop_leaves_no_child_and_no_grandchild() -> None:
    out = Lines()
    script = textwrap.dedent(
        f"""
        import subprocess, time
        grandchild = subprocess.Popen([{PY!r}, "-c", "import time; time.sleep(60)"])
        print("grandchild", grandchild.pid, flush=True)
        time.sleep(60)
        """
    )
    sup = fast(out).start()
    try:
        sup.add("parent", [PY, "-c", script])
        sup.add("sleeper", [PY, "-c", "import time; time.sleep(60)"])
        line = out.wait_for(lambda line: "grandchild" in line)
        grandchild = int(line.split()[-1])
        parent = sup.wait_spawned("parent")
        sleeper = sup.wait_spawned("sleeper")
        assert not gone(grandchild) and not gone(parent) and not gone(sleeper)
        assert os.getpgid(parent) == parent  # its own process group
    finally:
        started = time.monotonic()
        sup.stop()
    assert time.monotonic() - started < 5
    for pid in (parent, sleeper, grandchild):
        assert wait_gone(pid), f"process {pid} survived the supervisor's stop"


def test_a_child_ignoring_sigterm_is_killed() -> None:
    out = Lines()
    stubborn = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)"
    )
    sup = fast(out, stop_timeout_s=0.5).start()
    sup.add("stubborn", [PY, "-c", stubborn])
    out.wait_for(lambda line: "ready" in line)
    pid = sup.wait_spawned("stubborn")
    sup.stop()
    assert wait_gone(pid)
    out.wait_for(lambda line: "did not stop within" in line)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux")
def test_children_die_with_a_killed_supervisor(tmp_path) -> None:
    script = textwrap.dedent(
        f"""
        import sys, time
        from tongxin.supervisor import Supervisor
        sup = Supervisor(poll_s=0.02).start()
        sup.add("orphan-to-be", [{PY!r}, "-c", "import time; time.sleep(60)"])
        print("child", sup.wait_spawned("orphan-to-be"), flush=True)
        time.sleep(60)
        """
    )
    holder = subprocess.Popen([PY, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        line = holder.stdout.readline()
        child = int(line.split()[-1])
        assert not gone(child)
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=5)
        assert wait_gone(child), "the child outlived its killed supervisor"
    finally:
        holder.kill()
        holder.wait()


def test_higher_waves_stop_first(tmp_path) -> None:
    out = Lines()
    log = tmp_path / "order"
    script = (
        "import signal, sys, time\n"
        "def bye(*_):\n"
        f"    open({str(log)!r}, 'a').write(sys.argv[1] + '\\n'); sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, bye)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    sup = fast(out).start()
    sup.add("infra", [PY, "-c", script, "infra"], stop_wave=0)
    sup.add("service", [PY, "-c", script, "service"], stop_wave=1)
    for name in ("infra", "service"):
        sup.wait_spawned(name)
    deadline = time.monotonic() + 10
    while sum("ready" in line for line in out.lines) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    sup.stop()
    assert log.read_text().split() == ["service", "infra"]
