"""A virtual microphone with no sound hardware: a private PulseAudio daemon with a null sink whose
monitor is the default source. Audio played into the sink (``paplay``, paced in real time) comes
out of PortAudio's ``pulse`` device like a live microphone.

Works as root (CI) and as a user: the daemon runs with ``-n`` (no default.pa), ``--system=no``,
no idle exit, a unix socket and runtime/state/home in a temp dir (no D-Bus, no systemd, no
cookie needed: ``auth-anonymous=1``). It is stopped by its PID.

The trap (see the virtual-mic recipe): with no low-latency client a null sink renders 2 s ahead,
so a new capture stream gets nothing for about 2 s. A keep-warm ``parec --latency-msec=20`` stays
attached to the monitor, and :class:`VirtualMic` waits for its first bytes.

Needs ``pulseaudio pulseaudio-utils libasound2-plugins libportaudio2`` (Debian).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time

SINK = "vmic_sink"
SOURCE = "vmic"
#: PortAudio's device for the virtual microphone (the ALSA ``pulse`` pcm).
DEVICE = "pulse"


def unavailable() -> str | None:
    """Why the virtual microphone cannot run here, or ``None``."""
    for tool, pkg in (("pulseaudio", "pulseaudio"), ("paplay", "pulseaudio-utils"),
                      ("parec", "pulseaudio-utils"), ("pactl", "pulseaudio-utils")):
        if shutil.which(tool) is None:
            return f"{tool} not found: apt-get install {pkg} libasound2-plugins"
    if not any(os.path.exists(p) for p in (
            "/usr/lib/x86_64-linux-gnu/alsa-lib/libasound_module_pcm_pulse.so",
            "/usr/lib/aarch64-linux-gnu/alsa-lib/libasound_module_pcm_pulse.so",
            "/usr/lib/alsa-lib/libasound_module_pcm_pulse.so",
            "/usr/lib64/alsa-lib/libasound_module_pcm_pulse.so")):
        return "the ALSA pulse plugin is missing: apt-get install libasound2-plugins"
    try:
        import sounddevice  # noqa: F401
    except OSError:
        return "PortAudio not found: apt-get install libportaudio2"
    except ImportError:
        return "sounddevice not installed: pip install 'prosync[live]'"
    return None


class VirtualMic:
    """Context manager: a private PulseAudio with a stereo null sink at ``rate``.

    Sets ``PULSE_SERVER``, ``PULSE_SOURCE`` and ``PULSE_SINK`` in ``os.environ`` (child processes
    inherit them) and restores them on exit.
    """

    def __init__(self, rate: int = 16000, channels: int = 2):
        self.rate = rate
        self.channels = channels
        self.tmp = None
        self.proc = None
        self.keeper = None
        self._old = {}

    def __enter__(self):
        why = unavailable()
        if why:
            raise RuntimeError(why)
        self.tmp = tempfile.mkdtemp(prefix="prosync-vmic-")
        sock = os.path.join(self.tmp, "native")
        env = dict(os.environ, PULSE_RUNTIME_PATH=self.tmp, PULSE_STATE_PATH=self.tmp,
                   HOME=self.tmp, XDG_CONFIG_HOME=self.tmp, XDG_RUNTIME_DIR=self.tmp)
        env.pop("PULSE_SERVER", None)
        cmd = ["pulseaudio", "-n", "--daemonize=no", "--use-pid-file=no", "--system=no",
               "--exit-idle-time=-1", "--disallow-exit", "--disable-shm=yes",
               f"--log-target=file:{self.tmp}/pulse.log",
               f"--load=module-native-protocol-unix socket={sock} auth-anonymous=1",
               f"--load=module-null-sink sink_name={SINK} rate={self.rate} "
               f"channels={self.channels} format=s16le",
               f"--load=module-remap-source master={SINK}.monitor source_name={SOURCE}"]
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        for k in ("PULSE_SERVER", "PULSE_SOURCE", "PULSE_SINK"):
            self._old[k] = os.environ.get(k)
        os.environ["PULSE_SERVER"] = f"unix:{sock}"
        os.environ["PULSE_SOURCE"] = SOURCE
        os.environ["PULSE_SINK"] = SINK
        try:
            self._wait_up()
            self._keep_warm()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_up(self):
        deadline = time.monotonic() + 10
        while True:
            r = subprocess.run(["pactl", "info"], capture_output=True, text=True)
            if r.returncode == 0 and f"Default Source: {SOURCE}" in r.stdout:
                return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"pulseaudio did not come up (rc={self.proc.poll()}): "
                                   f"{self.log()[-500:]}")
            time.sleep(0.05)

    def _keep_warm(self):
        self.keeper = subprocess.Popen(
            ["parec", f"--device={SINK}.monitor", "--latency-msec=20", f"--rate={self.rate}",
             f"--channels={self.channels}", "--format=s16le", "--raw"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        warm = threading.Event()

        def drain():
            while self.keeper.stdout.read(3200):
                warm.set()

        threading.Thread(target=drain, daemon=True).start()
        if not warm.wait(10):
            raise RuntimeError("the virtual microphone delivered no audio within 10 s")

    def log(self) -> str:
        p = os.path.join(self.tmp or "", "pulse.log")
        return open(p).read() if os.path.exists(p) else ""

    def play(self, path) -> subprocess.Popen:
        """Start playing ``path`` into the sink in real time; returns the ``paplay`` process."""
        return subprocess.Popen(["paplay", f"--device={SINK}", str(path)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def kill_daemon(self) -> None:
        """Stop the daemon abruptly (the 'device disappears' case)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def __exit__(self, *exc):
        if self.keeper is not None:
            self.keeper.terminate()
            try:
                self.keeper.wait(5)
            except subprocess.TimeoutExpired:
                self.keeper.kill()
                self.keeper.wait()
            self.keeper = None
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        for k, v in self._old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return False
