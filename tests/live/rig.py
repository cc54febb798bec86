"""A lab rig for the live tests: two network namespaces joined by a veth pair, a real IKE
daemon in one, ``ipsecsim live`` in the other.

Addresses 10.250.N.1 (ipsecsim) and 10.250.N.2 (the daemon) exist only inside the
namespaces the rig creates; deleting a namespace deletes its veth end, so ``close`` (always
called, also when a test fails) leaves nothing behind.

strongSwan's charon writes a compiled-in pid file (/run/charon.pid) and refuses to start when
it exists: each charon runs in its own mount namespace with a tmpfs on /run
(``unshare -m``), its configuration in ``STRONGSWAN_CONF``, its vici socket in the rig's
directory (``swanctl --uri``). The kernel of the CI machine has XFRM but no ESP, so charon
installs CHILD SAs with its userspace ``kernel-libipsec`` plugin (a TUN device), which
forces UDP encapsulation (RFC 3948): IKE moves to port 4500 after IKE_SA_INIT.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

CHARON = "/usr/lib/ipsec/charon"
SWANCTL = "/usr/sbin/swanctl"
LIBRESWAN = "/opt/ipsecsim/libreswan"
PLUTO = f"{LIBRESWAN}/usr/libexec/ipsec/pluto"
ROOT = Path(__file__).resolve().parents[2]


def why_not_libreswan() -> str | None:
    """Why the Libreswan tests cannot run (None: they can); after ``why_not()``."""
    if not os.path.exists(PLUTO):
        return f"Libreswan is not unpacked in {LIBRESWAN}; run scripts/setup-live as root on Debian"
    if not os.path.isdir("/usr/libexec/ipsec"):
        return "no /usr/libexec/ipsec mount point for pluto's addconn; run scripts/setup-live"
    if shutil.which("certutil") is None:
        return "no certutil (libnss3-tools) to create pluto's NSS database"
    if shutil.which("cc") is None or not os.path.exists("/usr/include/linux/xfrm.h"):
        return "no C compiler / linux-libc-dev to build the xfrm shim pluto needs here (xfrmshim.c)"
    return None


SHIM_SOURCE = Path(__file__).with_name("xfrmshim.c")
_SHIM: list[str] = []


def xfrm_shim() -> str:
    """The xfrm shim (xfrmshim.c) built once per session for pluto's LD_PRELOAD."""
    if not _SHIM:
        tmp = tempfile.mkdtemp(prefix="ipsecsim-shim-")
        atexit.register(shutil.rmtree, tmp, True)
        out = Path(tmp) / "xfrmshim.so"
        sh("cc", "-shared", "-fPIC", "-O2", "-Wall", "-o", str(out), str(SHIM_SOURCE), "-ldl")
        _SHIM.append(str(out))
    return _SHIM[0]


def why_not() -> str | None:
    """Why the live tests cannot run on this machine (None: they can)."""
    if sys.platform != "linux":
        return "live tests need Linux network namespaces"
    if os.geteuid() != 0:
        return "live tests need root (network namespaces, UDP port 500)"
    for tool in ("ip", "unshare", "mount"):
        if shutil.which(tool) is None:
            return f"live tests need the {tool!r} command"
    if not (os.path.exists(CHARON) and os.path.exists(SWANCTL)):
        return ("strongSwan is not installed (charon, swanctl); run scripts/setup-live as root on Debian")
    if not os.path.exists("/dev/net/tun"):
        return "no /dev/net/tun (strongSwan's kernel-libipsec needs a TUN device)"
    probe = f"ipsl-probe-{os.getpid()}"
    r = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if r.returncode != 0:
        return f"cannot create a network namespace: {r.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def sh(*cmd: str, check: bool = True, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip() or r.stdout.strip()}")
    return r


STRONGSWAN_CONF = """\
charon {{
  load_modular = no
  load = random nonce aes sha1 sha2 hmac gmp openssl pem pkcs1 pubkey x509 kdf {kernel} socket-default vici
  install_routes = no
  install_virtual_ip = no
  retransmit_timeout = 1
  retransmit_tries = 2
{settings}
  plugins {{
    vici {{
      socket = unix://{dir}/charon.vici
    }}
  }}
  filelog {{
    main {{
      path = {dir}/charon.log
      time_format = %H:%M:%S
      time_add_ms = yes
      append = no
      flush_line = yes
      ike_name = yes
      default = 1
      ike = 2
      net = 2
      enc = 1
      cfg = 2
      knl = 1
      chd = 2
    }}
  }}
  syslog {{
    daemon {{
      default = -1
    }}
  }}
}}
"""


class Rig:
    """One namespace pair; ``n`` picks the 10.250.n.0/24 subnet (distinct per rig)."""

    def __init__(self, n: int = 1):
        tag = f"{os.getpid() % 100000}"
        self.sim_ns, self.gw_ns = f"ipsl-sim-{tag}", f"ipsl-gw-{tag}"
        self.sim_addr, self.gw_addr = f"10.250.{n}.1", f"10.250.{n}.2"
        self.dir = Path(tempfile.mkdtemp(prefix="ipsecsim-live-"))
        self.daemon: subprocess.Popen[bytes] | None = None
        self.pluto = False
        self.created: list[str] = []
        try:
            for ns in (self.sim_ns, self.gw_ns):
                sh("ip", "netns", "add", ns)
                self.created.append(ns)
            sh("ip", "link", "add", "vs" + tag, "netns", self.sim_ns, "type", "veth", "peer", "name", "vg" + tag,
               "netns", self.gw_ns)
            for ns, dev, addr in ((self.sim_ns, "vs" + tag, self.sim_addr), (self.gw_ns, "vg" + tag, self.gw_addr)):
                sh("ip", "-n", ns, "link", "set", "lo", "up")
                sh("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
                sh("ip", "-n", ns, "link", "set", dev, "up")
            # kernel-libipsec routes a CHILD SA's remote subnet from an address of the local
            # traffic selector (kernel_libipsec_ipsec.c install_route: get_address_by_ts)
            sh("ip", "-n", self.gw_ns, "addr", "add", "10.102.0.1/32", "dev", "lo")
        except BaseException:
            self.close()
            raise

    # --- strongSwan --------------------------------------------------------------------------
    def start_charon(self, swanctl_conf: str, kernel: str = "kernel-libipsec kernel-netlink",
                     settings: str = "") -> None:
        """charon with ``swanctl_conf`` loaded; ``settings``: more ``charon { }`` lines of
        strongswan.conf (a later line for the same key wins)."""
        (self.dir / "strongswan.conf").write_text(STRONGSWAN_CONF.format(dir=self.dir, kernel=kernel,
                                                                         settings=settings))
        (self.dir / "swanctl.conf").write_text(swanctl_conf)
        env = {**os.environ, "STRONGSWAN_CONF": str(self.dir / "strongswan.conf")}
        # own mount namespace, own /run: charon's compiled-in pid file cannot collide
        script = f"mount -t tmpfs tmpfs /run && exec {CHARON}"
        self.daemon = subprocess.Popen(["ip", "netns", "exec", self.gw_ns, "unshare", "-m", "--propagation",
                                        "private", "sh", "-c", script], env=env, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL, start_new_session=True)
        end = time.monotonic() + 10
        while not (self.dir / "charon.vici").exists():
            if self.daemon.poll() is not None or time.monotonic() > end:
                raise RuntimeError(f"charon did not start: {self.log()[-2000:]}")
            time.sleep(0.05)
        self.swanctl("--load-all", "--file", str(self.dir / "swanctl.conf"))

    def swanctl(self, *args: str, check: bool = True) -> str:
        r = sh("ip", "netns", "exec", self.gw_ns, SWANCTL, *args, "--uri", f"unix://{self.dir}/charon.vici",
               check=check)
        return r.stdout

    def initiate(self, timeout: int = 8, child: str = "c") -> bool:
        """``swanctl --initiate --child c``: True when charon reports success (exit status 0)."""
        r = sh("ip", "netns", "exec", self.gw_ns, SWANCTL, "--initiate", "--child", child, "--timeout", str(timeout),
               "--uri", f"unix://{self.dir}/charon.vici", check=False, timeout=timeout + 5)
        return r.returncode == 0 and "initiate completed successfully" in r.stdout

    def list_sas(self) -> str:
        return self.swanctl("--list-sas")

    def log(self) -> str:
        p = self.dir / ("pluto.log" if self.pluto else "charon.log")
        return p.read_text(errors="replace") if p.exists() else ""

    def wait_log(self, text: str, timeout: float = 10) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if text in self.log():
                return True
            time.sleep(0.05)
        return False

    # --- Libreswan ----------------------------------------------------------------------------
    def start_pluto(self, conn: str, psk: str = "west-east-secret", setup: str = "") -> None:
        """Libreswan's pluto (unpacked by scripts/setup-live) with connection ``lab``: its
        ``conn`` body lines, PSK authentication between the rig's addresses; ``setup`` adds
        lines to ``config setup``. Its IPsec SA installs are answered by the xfrm shim
        (xfrmshim.c: this kernel has no ESP)."""
        self.pluto = True
        (self.dir / "nss").mkdir()
        (self.dir / "run").mkdir()
        (self.dir / "ipsec.conf").write_text(
            f"config setup\n    logfile={self.dir}/pluto.log\n    plutodebug=none\n    ikev1-policy=accept\n{setup}"
            f"conn lab\n    left={self.gw_addr}\n    right={self.sim_addr}\n    leftsubnet=10.102.0.0/24\n"
            f"    rightsubnet=10.101.0.0/24\n    authby=secret\n    auto=add\n    leftupdown=%disabled\n{conn}\n")
        secrets = self.dir / "ipsec.secrets"
        secrets.write_text(f'{self.gw_addr} {self.sim_addr} : PSK "{psk}"\n')
        secrets.chmod(0o600)
        sh("certutil", "-N", "-d", f"sql:{self.dir}/nss", "--empty-password")
        # own mount namespace: a /run of its own, and its libexec directory where pluto looks
        # for addconn (compiled in: /usr/libexec/ipsec)
        script = (f"mount -t tmpfs tmpfs /run && mount --bind {LIBRESWAN}/usr/libexec/ipsec /usr/libexec/ipsec && "
                  f"LD_PRELOAD={xfrm_shim()} exec {PLUTO} --nofork --config {self.dir}/ipsec.conf "
                  f"--secretsfile {secrets} --nssdir {self.dir}/nss --rundir {self.dir}/run")
        self.daemon = subprocess.Popen(["ip", "netns", "exec", self.gw_ns, "unshare", "-m", "--propagation",
                                        "private", "sh", "-c", script], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL, start_new_session=True)
        if not self.wait_log('"lab": added IKE', 10):
            raise RuntimeError(f"pluto did not start: {self.log()[-2000:]}")

    def whack(self, *args: str, check: bool = False, timeout: float = 15) -> str:
        r = sh("ip", "netns", "exec", self.gw_ns, f"{LIBRESWAN}/usr/libexec/ipsec/whack", "--ctlsocket",
               f"{self.dir}/run/pluto.ctl", *args, check=check, timeout=timeout)
        return r.stdout + r.stderr

    # --- ipsecsim ------------------------------------------------------------------------------
    def scenario(self, sim: dict[str, Any], gw: dict[str, Any], **top: Any) -> dict[str, Any]:
        """A two-peer scenario: ``S`` (run by ipsecsim) and ``G`` (the daemon's settings, as the
        scenario names them) on the rig's addresses."""
        base = {"name": "live", "seed": 1, "duration": top.pop("duration", "20s"),
                "peers": {"S": {"profile": "strongswan", "address": self.sim_addr,
                                "local_subnets": ["10.101.0.0/24"], "remote_subnets": ["10.102.0.0/24"], **sim},
                          "G": {"profile": "strongswan", "address": self.gw_addr,
                                "local_subnets": ["10.102.0.0/24"], "remote_subnets": ["10.101.0.0/24"], **gw}}}
        base.update(top)
        return base

    def start_live(self, scenario: dict[str, Any], duration: float, *extra: str) -> subprocess.Popen[str]:
        """``ipsecsim live`` for peer S in the ipsecsim namespace (events to ``events.jsonl``)."""
        path = self.dir / "scenario.yaml"
        path.write_text(yaml.safe_dump(scenario))
        cmd = ["ip", "netns", "exec", self.sim_ns, sys.executable, "-m", "ipsecsim", "live", str(path),
               "--peer", "S", "--duration", f"{duration}s", "--events", str(self.dir / "events.jsonl"), "--json",
               *extra]
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)

    def run_live(self, scenario: dict[str, Any], duration: float, *extra: str) -> dict[str, Any]:
        proc = self.start_live(scenario, duration, *extra)
        out, err = proc.communicate(timeout=duration + 30)
        return self.outcome(proc, out, err)

    def wait_bound(self, port: int = 500, timeout: float = 10) -> None:
        """Until ``ipsecsim live`` listens on UDP ``port`` in its namespace."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            r = sh("ip", "netns", "exec", self.sim_ns, "ss", "-Hlun", check=False)
            if f"{self.sim_addr}:{port} " in r.stdout:
                return
            time.sleep(0.05)
        raise RuntimeError(f"ipsecsim live did not bind {self.sim_addr}:{port}")

    def finish(self, proc: subprocess.Popen[str], timeout: float = 30) -> dict[str, Any]:
        out, err = proc.communicate(timeout=timeout)
        return self.outcome(proc, out, err)

    def outcome(self, proc: subprocess.Popen[str], out: str, err: str) -> dict[str, Any]:
        import json
        if proc.returncode != 0:
            raise AssertionError(f"ipsecsim live exited {proc.returncode}: {err}")
        events = [json.loads(line) for line in (self.dir / "events.jsonl").read_text().splitlines()]
        return {"summary": json.loads(out), "events": events, "stderr": err}

    def close(self) -> None:
        if self.daemon is not None and self.daemon.poll() is None:
            try:
                os.killpg(self.daemon.pid, signal.SIGTERM)
                self.daemon.wait(timeout=5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.daemon.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for ns in reversed(self.created):
            # processes still in the namespace (a stuck ipsecsim) are ended by their pid
            r = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
            for pid in r.stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self.created.clear()
        shutil.rmtree(self.dir, ignore_errors=True)


def swanctl_conf(rig: Rig, version: int = 2, proposals: str = "aes128-sha256-modp2048",
                 esp: str = "aes128-sha256", psk: str = "west-east-secret", conn: str = "", child: str = "") -> str:
    """swanctl.conf of the daemon: connection ``lab`` with child ``c``, PSK, identities the
    addresses (the scenario default), ESP in UDP forced (``encap``: kernel-libipsec)."""
    return f"""connections {{
  lab {{
    version = {version}
    local_addrs = {rig.gw_addr}
    remote_addrs = {rig.sim_addr}
    proposals = {proposals}
    encap = yes
{conn}
    local {{
      auth = psk
      id = {rig.gw_addr}
    }}
    remote {{
      auth = psk
      id = {rig.sim_addr}
    }}
    children {{
      c {{
        local_ts = 10.102.0.0/24
        remote_ts = 10.101.0.0/24
        esp_proposals = {esp}
        start_action = none
{child}
      }}
    }}
  }}
}}
secrets {{
  ike-lab {{
    id-a = {rig.sim_addr}
    id-b = {rig.gw_addr}
    secret = "{psk}"
  }}
}}
"""
