import functools
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from mfsearch import data
from mfsearch.families import load_model_spec

REFERENCE = Path(__file__).parent / "data" / "official_variants_measured.json"

# Parameter counts of the official implementation (AAboys/MobileFormer), issue acceptance.
OFFICIAL_PARAMS = {
    "mobile-former-26m": 3_232_788, "mobile-former-52m": 3_469_092,
    "mobile-former-96m": 4_585_252, "mobile-former-151m": 7_595_828,
    "mobile-former-214m": 9_425_920, "mobile-former-294m": 11_422_648,
    "mobile-former-508m": 13_976_976,
}
PAPER_MADDS_M = {"mobile-former-26m": 26, "mobile-former-52m": 52, "mobile-former-96m": 96,
                 "mobile-former-151m": 151, "mobile-former-214m": 214,
                 "mobile-former-294m": 294, "mobile-former-508m": 508}


@pytest.fixture(autouse=True)
def small_builtin_task(monkeypatch):
    """The CLI smoke runs train on the built-in task and check files, states and bands, not
    accuracy: 1024 training and 512 held-out images instead of 8192 and 4096 keep the suite
    fast. A test passing sizes to data.builtin is unaffected; subprocesses (the distributed
    test's workers) use the full task."""
    monkeypatch.setattr(data, "builtin", functools.partial(data.builtin, train_size=1024,
                                                           val_size=512))


@pytest.fixture(scope="session")
def official():
    """Per-variant measurements of the official code (fvcore on the unmodified model files)."""
    return json.loads(REFERENCE.read_text())


@pytest.fixture(scope="session")
def mf294():
    return load_model_spec("mobile-former-294m")


def _postgres_bin() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return versions[-1].parent if versions else None


@pytest.fixture(scope="session")
def postgres_url():
    """A throwaway PostgreSQL server on loopback (Debian's package; `.ci/run` installs it).

    Runs as the `postgres` user when the tests run as root, since initdb refuses root."""
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install -e '.[test]')")
    bindir = _postgres_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not found (Debian: apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="mfsearch-pg-"))  # pytest's tmp is private to root
    root.chmod(0o755)
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    prefix = []
    if os.geteuid() == 0:
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no postgres user to run the server")
        for path in (root, sock):
            os.chown(path, pw.pw_uid, pw.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = lambda *cmd: subprocess.run([*prefix, *cmd], check=True, capture_output=True)  # noqa
    run(str(bindir / "initdb"), "-D", str(data), "-U", "mfsearch", "--auth=trust", "-E", "UTF8")
    run(str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l", str(root / "log"), "-o",
        f"-p {port} -k {sock} -c listen_addresses=127.0.0.1", "start")
    try:
        run(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "mfsearch",
            "studies")
        yield f"postgresql+psycopg://mfsearch@127.0.0.1:{port}/studies"
    finally:
        run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)
