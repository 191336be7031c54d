"""The `zeroshop` command as a user runs it: `up` starts and stops everything; ping, call,
status; and `./zeroshop`, the launcher the README uses."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared import running
from shared.config import ALL_SERVICES

from ..support import Platform, base_env, wait_for

ZEROSHOP = [sys.executable, "-m", "shared.cli"]
LAUNCHER = Path(__file__).resolve().parents[2] / "zeroshop"


class RunningUp:
    """`zeroshop up` in the background, its stdout read line by line."""

    def __init__(self, env: dict[str, str], as_background_job: bool = False) -> None:
        # A background job of a non-interactive shell starts with SIGINT ignored.
        ignore_sigint = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) \
            if as_background_job else None
        self.env = env
        self.stderr_path = Path(env["ZEROSHOP_DATA_DIR"]) / "up.stderr"
        self.stderr_path.parent.mkdir(parents=True, exist_ok=True)
        with self.stderr_path.open("w") as stderr:  # the children's logs, and up's own lines
            self.process = subprocess.Popen([*ZEROSHOP, "up"], env=env, stdout=subprocess.PIPE,
                                            stderr=stderr, text=True, start_new_session=True,
                                            preexec_fn=ignore_sigint)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.output: list[str] = []

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def read_until(self, marker: str, timeout: float = 60.0) -> list[str]:
        def seen() -> bool:
            while not self.lines.empty():
                self.output.append(self.lines.get())
            return any(marker in line for line in self.output)
        wait_for(seen, timeout=timeout, what=f"{marker!r} from zeroshop up")
        return self.output

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def wait_stderr(self, text: str, timeout: float = 60.0) -> None:
        wait_for(lambda: text in self.stderr(), timeout=timeout, what=f"{text!r} on stderr")

    def status(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*ZEROSHOP, "status"], env=self.env, capture_output=True,
                              text=True, timeout=30)

    def table(self) -> dict[str, tuple[str, int]]:
        rows = {}
        for line in self.output:
            parts = line.split()
            if len(parts) >= 4 and parts[2] == "ready":
                rows[parts[0]] = (parts[1], int(parts[4].rstrip(")")))
        return rows


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie still answers kill(0); it has exited, waiting for its parent to reap it.
    return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


@pytest.fixture
def up(tmp_path: Path) -> Iterator[RunningUp]:
    running = RunningUp(base_env(tmp_path))
    yield running
    if running.process.poll() is None:
        running.process.kill()
        running.process.wait()


class TestUp:
    def test_up_prints_the_table_serves_and_stops_everything(self, up: RunningUp) -> None:
        up.read_until("ZeroShop is up")
        table = up.table()
        assert set(table) == {*ALL_SERVICES, "gateway"}
        assert any(line.startswith("security: plain ZeroMQ") for line in up.output)
        url = table["gateway"][0]
        with urllib.request.urlopen(f"{url}/api/products/1", timeout=5) as resp:
            page = json.loads(resp.read())
        assert page["degraded"] == [] and page["product"]["id"] == 1
        up.process.send_signal(signal.SIGTERM)
        assert up.process.wait(timeout=30) == 0
        for name, (_, pid) in table.items():
            wait_for(lambda pid=pid: gone(pid), what=f"{name} (pid {pid}) to exit")

    def test_ctrl_c_stops_everything_even_in_a_background_job(self, tmp_path: Path) -> None:
        up = RunningUp(base_env(tmp_path), as_background_job=True)
        try:
            up.read_until("ZeroShop is up")
            pids = [pid for _, pid in up.table().values()]
            os.killpg(up.process.pid, signal.SIGINT)  # what Ctrl-C sends: the whole group
            assert up.process.wait(timeout=30) == 0
            for pid in pids:
                wait_for(lambda pid=pid: gone(pid), what=f"pid {pid} to exit")
            assert "Traceback" not in up.stderr()
            assert up.stderr().rstrip().endswith("stopped.")
        finally:
            if up.process.poll() is None:
                up.process.kill()

    def test_a_killed_service_is_restarted_and_status_says_so(self, up: RunningUp) -> None:
        up.read_until("ZeroShop is up")
        table = up.table()
        os.kill(table["pricing"][1], signal.SIGKILL)
        up.wait_stderr("pricing died (killed by signal 9); restarting in 0.5 s")
        up.wait_stderr("pricing is ready again")
        url = table["gateway"][0]

        def whole_page() -> bool:
            with urllib.request.urlopen(f"{url}/api/products/1", timeout=5) as resp:
                return json.loads(resp.read())["degraded"] == []
        wait_for(whole_page, what="a page with its price again")
        status = up.status()
        assert status.returncode == 0, status.stdout + status.stderr
        rows = {line.split()[0]: line.split() for line in status.stdout.splitlines()[1:]}
        assert rows["pricing"][2] == "up" and rows["pricing"][7:] == ["1", "ready"]
        assert rows["pricing"][6] != str(table["pricing"][1])  # a new process
        assert rows["product"][7:] == ["0", "ready"]
        assert rows["pricing"][3].endswith("ms") and rows["pricing"][4:6] == ["-", "-"]
        assert rows["inventory"][4:6] == ["0", "0"]  # a consumer: level, no dead letters

    def test_a_service_that_cannot_come_back_is_a_crash_loop(self, up: RunningUp) -> None:
        up.read_until("ZeroShop is up")
        table = up.table()
        port = int(table["discount"][0].rsplit(":", 1)[1])
        data = Path(up.env["ZEROSHOP_DATA_DIR"])

        def kill_discount_and_take_its_port() -> socket.socket | None:
            supervised = running.read(data)
            pid = supervised.processes["discount"].pid if supervised else table["discount"][1]
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)
                wait_for(lambda: gone(pid), what="discount to die")
            thief = socket.socket()
            # As zmq does: the dead service's closed connections leave the port in TIME_WAIT.
            thief.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                thief.bind(("127.0.0.1", port))
            except OSError:  # on a busy machine its restart came first: kill it again
                thief.close()
                return None
            return thief

        # Another program takes its port: every restart from then on fails.
        with wait_for(kill_discount_and_take_its_port, timeout=30,
                      what="discount's port") as thief:
            thief.listen()
            up.wait_stderr("discount died (exit code 1) 5 times in a row soon after starting: "
                           "a crash loop", timeout=90)
            status = up.status()
        assert status.returncode == 1
        discount = next(line for line in status.stdout.splitlines()
                        if line.startswith("discount"))
        assert "DOWN" in discount and "crash loop: gave up after 5 quick deaths" in discount
        assert up.stderr().count("discount restarted") == 4
        again = up.read_until("crash loop: gave up")  # the table printed again
        assert any(line.startswith("pricing") and line.endswith("ready") for line in again)

    def test_children_die_with_a_killed_up(self, up: RunningUp) -> None:
        up.read_until("ZeroShop is up")
        pids = [pid for _, pid in up.table().values()]
        up.process.kill()
        up.process.wait()
        for pid in pids:
            wait_for(lambda pid=pid: gone(pid), what=f"orphan pid {pid} to exit")

    def test_a_taken_port_is_a_clear_failure(self, tmp_path: Path) -> None:
        holder = Platform(tmp_path / "a", services=["pricing"], gateway=False)
        try:
            env = base_env(tmp_path / "b", PRICING_BIND=holder.endpoints["pricing"])
            result = subprocess.run([*ZEROSHOP, "up"], env=env, capture_output=True, text=True,
                                    timeout=60)
            assert result.returncode == 1
            assert "cannot bind" in result.stderr and "pricing" in result.stderr
        finally:
            holder.close()


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    running = Platform(tmp_path_factory.mktemp("cli"), services=["product"], gateway=False)
    yield running
    running.close()


class TestPingCallStatus:
    def run(self, product: Platform, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**product.env, "PRODUCT_ENDPOINT": product.endpoints["product"]}
        return subprocess.run([*ZEROSHOP, *args], env=env, capture_output=True, text=True,
                              timeout=30)

    def test_ping(self, product: Platform) -> None:
        assert self.run(product, "ping", "product").returncode == 0
        dead = self.run(product, "ping", "pricing", "--endpoint", "tcp://127.0.0.1:1",
                        "--timeout-ms", "200")
        assert dead.returncode == 1 and "pricing" in dead.stderr

    def test_call_prints_the_result(self, product: Platform) -> None:
        result = self.run(product, "call", "product", "get", '{"id": 2}')
        assert result.returncode == 0 and json.loads(result.stdout)["id"] == 2
        bad = self.run(product, "call", "product", "get", '{"id": "two"}')
        assert bad.returncode == 1 and "bad_params" in bad.stderr
        not_json = self.run(product, "call", "product", "get", "{id")
        assert not_json.returncode == 2 and "PARAMS must be JSON" in not_json.stderr

    def test_status_names_what_is_down(self, product: Platform) -> None:
        result = self.run(product, "status", "--timeout-ms", "300")
        assert result.returncode == 1
        lines = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
        assert "up" in lines["product"] and "DOWN" in lines["pricing"]
        assert "DOWN" in lines["gateway"]
        as_json = self.run(product, "status", "--timeout-ms", "300", "--json")
        rows = {row["service"]: row for row in map(json.loads, as_json.stdout.splitlines())}
        assert rows["product"]["state"] == "up" and rows["product"]["rpc_ms"] > 0
        assert rows["pricing"]["state"] == "DOWN (unavailable)"
        assert rows["pricing"]["rpc_ms"] is None and as_json.returncode == 1


class TestLauncher:
    """`./zeroshop` installs .venv if needed (here it is), then is the CLI itself."""

    def test_it_runs_the_cli_quietly_once_installed(self) -> None:
        result = subprocess.run([str(LAUNCHER), "--help"], cwd=LAUNCHER.parent,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert "dead-letters" in result.stdout and "events" in result.stdout
        assert result.stderr == ""  # no install step, no make chatter

    def test_it_passes_arguments_and_the_exit_code_from_any_folder(self, tmp_path: Path) -> None:
        result = subprocess.run([str(LAUNCHER), "ping", "pricing", "--endpoint",
                                 "tcp://127.0.0.1:1", "--timeout-ms", "200"], cwd=tmp_path,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 1
        assert "pricing at tcp://127.0.0.1:1" in result.stderr
