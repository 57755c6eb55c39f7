"""The parent side of the run worker: start it, send trials, survive crashes and hangs."""
from __future__ import annotations

from hktune.errors import Missing

import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

from hktune.run.settings import Settings

STARTUP_TIMEOUT_S = 180.0


class WorkerError(Missing):
    """The worker could not be started at all (no GPU, broken torch): stops the search."""


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "did not exit"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with status {code}"


class Worker:
    """One worker process bound to one device ('cpu' or 'cuda:N'). ``dtype`` (a hktune.dtypes name)
    goes with every request that touches a shape, unless the request names its own."""

    def __init__(self, device: str = "cpu", settings: Settings | None = None, timeout_s: float = 120.0,
                 env: dict[str, str] | None = None, dtype: str = "bf16") -> None:
        self.device = device
        self.dtype = dtype
        self.settings = settings or Settings()
        self.timeout_s = timeout_s
        self.extra_env = env or {}
        self.info: dict[str, Any] = {}
        self.restarts = 0
        self._prepared: tuple[int, int, int] | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._log = Path(tempfile.mkstemp(prefix="hktune-worker-", suffix=".log")[1])

    # -- life cycle --------------------------------------------------------------------------
    def start(self) -> dict[str, Any]:
        env = dict(os.environ, **self.extra_env)
        dev = self.device
        if dev.startswith("cuda:"):
            # Pin the worker to its GPU: it then sees exactly one, as cuda:0.
            env["CUDA_VISIBLE_DEVICES"] = env.get("HKTUNE_VISIBLE_OVERRIDE", dev.split(":", 1)[1])
            env["HIP_VISIBLE_DEVICES"] = env["CUDA_VISIBLE_DEVICES"]
            dev = "cuda:0"
        env["HKTUNE_DEVICE"] = dev
        env["HKTUNE_SETTINGS"] = json.dumps(asdict(self.settings))
        env.setdefault("PYTHONUNBUFFERED", "1")
        log = open(self._log, "a")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "hktune.run.worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=log, text=True, env=env, start_new_session=True,
        )
        log.close()
        self._lines = queue.Queue()
        threading.Thread(target=self._pump, args=(self._proc, self._lines), daemon=True).start()
        reply = self._read(STARTUP_TIMEOUT_S)
        if reply is None or reply.get("error") or "device" not in reply:
            why = (reply or {}).get("error") or f"worker {_describe_exit(self._proc.poll())}: {self.log_tail()}"
            self.stop()
            raise WorkerError(f"cannot start a run worker on {self.device}: {why}")
        self.info = reply["device"]
        return self.info

    @staticmethod
    def _pump(proc: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    def _read(self, timeout: float) -> dict[str, Any] | None:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError from None
        return None if line is None else json.loads(line)

    def stop(self) -> None:
        p = self._proc
        self._proc = None
        if p is None:
            return
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)  # the whole group: a hung kernel's process too
            except ProcessLookupError:
                pass
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass

    def restart(self) -> None:
        self.stop()
        self.restarts += 1
        self.start()
        if self._prepared is not None:
            self.prepare(*self._prepared)

    def prepare(self, m: int, n: int, k: int) -> dict[str, Any]:
        """Make a shape's input sets and time the vendor BLAS once, with the generous start-up
        time limit, so that no trial's timeout pays for it (also after a restart)."""
        self._prepared = (m, n, k)
        return self.request({"op": "prepare", "m": m, "n": n, "k": k, "dtype": self.dtype}, timeout_s=STARTUP_TIMEOUT_S)

    def log_tail(self, lines: int = 8) -> str:
        try:
            text = self._log.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(text[-lines:])

    # -- requests ----------------------------------------------------------------------------
    def request(self, msg: dict[str, Any], timeout_s: float | None = None) -> dict[str, Any]:
        """Send one request. A crash or a hang becomes {'ok': False, 'reason': ...} and the
        worker is restarted, so the caller simply records a failed trial and goes on."""
        if self._proc is None or self._proc.poll() is not None:
            self.restart()
        assert self._proc is not None and self._proc.stdin is not None
        mark = self._log.stat().st_size if self._log.exists() else 0
        try:
            self._proc.stdin.write(json.dumps(msg) + "\n")
            self._proc.stdin.flush()
            reply = self._read(timeout_s or self.timeout_s)
        except TimeoutError:
            self.restart()
            return {"ok": False, "reason": f"timed out after {timeout_s or self.timeout_s:.0f} s (hang?); worker restarted"}
        except (BrokenPipeError, OSError):
            reply = None
        if reply is None:
            code = self._proc.wait(timeout=30) if self._proc else None
            tail = self._log_since(mark)
            self.restart()
            return {"ok": False, "reason": f"worker {_describe_exit(code)} (crash){': ' + tail if tail else ''}; worker restarted"}
        if self._proc.poll() is not None:  # it answered, then exited on purpose (device fault)
            self.restart()
        return reply

    def _log_since(self, mark: int) -> str:
        try:
            with open(self._log, errors="replace") as f:
                f.seek(mark)
                text = f.read().strip().splitlines()
        except OSError:
            return ""
        return " | ".join(text[-4:])[:500]

    def evaluate(self, lib: Path | str, expected: str | None, m: int, n: int, k: int, **kw: Any) -> dict[str, Any]:
        return self.request({"op": "evaluate", "lib": str(lib), "expected": expected, "m": m, "n": n, "k": k,
                             "dtype": self.dtype, **kw})

    def close(self) -> None:
        if self._proc is not None and self._proc.poll() is None and self._proc.stdin:
            try:
                self._proc.stdin.write('{"op": "quit"}\n')
                self._proc.stdin.flush()
                self._proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.stop()

    def __enter__(self) -> "Worker":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
