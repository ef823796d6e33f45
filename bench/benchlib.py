"""bench/benchlib.py: what every bench script shares.

Processes (each started in its own process group and remembered, so that
an interrupted run stops all of them), their CPU and memory, the Release
tree with a development certificate and a work directory, the run's
metadata, a sysctl put back as it was, and the main() wrapper that turns
SIGINT/SIGTERM into a clean stop.  Python 3 standard library only;
bench/run.py re-exports these names, so `R.kill_all` and the like keep
working in the scripts that import run.py.
"""
import atexit
import contextlib
import datetime
import os
import signal
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(TOP, "bench")
CHARTS = os.path.join(BENCH, "charts")
CLK_TCK = os.sysconf("SC_CLK_TCK")

# ---------------------------------------------------------------- processes

PROCS = []


def spawn(cmd, **kw):
    """Start |cmd| in its own process group, remembered for cleanup."""
    p = subprocess.Popen(cmd, start_new_session=True, **kw)
    PROCS.append(p)
    return p


def kill_group(p, sig=signal.SIGTERM, wait=5):
    if p.poll() is None:
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            pass
        try:
            p.wait(wait)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
    if p in PROCS:
        PROCS.remove(p)


def kill_all():
    """SIGTERM first (quicsteer-server then removes its BPF pins and stats
    file), SIGKILL after 5 s."""
    for p in list(PROCS):
        kill_group(p, signal.SIGTERM, 5)


def on_signal(sig, frame):
    raise KeyboardInterrupt("signal %d" % sig)


def log(*a):
    print("[%s]" % time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


def run(cmd, **kw):
    """Run to completion in its own process group; returns CompletedProcess."""
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    timeout = kw.pop("timeout", None)
    p = spawn(cmd, text=True, **kw)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(p, signal.SIGKILL)
        raise RuntimeError("timed out: %s" % " ".join(cmd))
    except BaseException:
        kill_group(p)  # interrupted: it must not outlive the script
        raise
    finally:
        if p in PROCS:
            PROCS.remove(p)
    return subprocess.CompletedProcess(cmd, p.returncode, out, err)


def rotated(items, r):
    """|items| in the order of round |r|: interleaved rounds start each time
    with the next one."""
    k = r % len(items)
    return items[k:] + items[:k]


def prog():
    """The running script as the docs name it: bench/NAME.py."""
    return "bench/" + os.path.basename(sys.argv[0])


def main_run(main):
    """sys.exit(main()), with SIGINT and SIGTERM stopping every process the
    script started (also on any other exit) and exiting 130."""
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    atexit.register(kill_all)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        kill_all()
        print("%s: interrupted; every process it started is stopped" % prog(), file=sys.stderr)
        sys.exit(130)


def need_root(why):
    """None as root; else says so on stderr and returns the exit status 2."""
    if os.geteuid() == 0:
        return None
    print("%s: run as root (%s)" % (prog(), why), file=sys.stderr)
    return 2


@contextlib.contextmanager
def sysctl(path, value):
    """Writes |value| to the /proc/sys file |path| for the block, then puts
    back what was there."""
    with open(path) as f:
        before = f.read().strip()
    try:
        with open(path, "w") as f:
            f.write(value)
        yield
    finally:
        with open(path, "w") as f:
            f.write(before)

# ------------------------------------------------------------- CPU, memory


def cpu_seconds(pid):
    """utime + stime of every thread of |pid|, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def tree_sum(pid, f):
    """f(p) added over |pid| and its child processes (nginx's workers)."""
    total = 0
    try:
        total += f(pid)
        kids = open("/proc/%d/task/%d/children" % (pid, pid)).read().split()
    except OSError:
        return total
    for k in kids:
        try:
            total += f(int(k))
        except OSError:
            pass
    return total


def tree_cpu(pid):
    """CPU seconds of |pid| and of its child processes (nginx's workers)."""
    return tree_sum(pid, cpu_seconds)


def status_kb(pid, field):
    """A kB figure of /proc/PID/status (VmRSS, VmHWM, ...), 0 if absent."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def rss_kb(pid):
    return status_kb(pid, "VmRSS")

# ------------------------------------------------------- build, files, meta


class Env:
    pass


def bench_env(build, work, targets):
    """The Release build |build| (configured if needed, |targets| built), a
    development certificate and the work directory build/WORK with its
    document root www/: what every script starts from."""
    env = Env()
    env.build = os.path.abspath(build)
    if not os.path.exists(os.path.join(env.build, "CMakeCache.txt")):
        subprocess.run(["cmake", "-S", TOP, "-B", env.build, "-DCMAKE_BUILD_TYPE=Release",
                        "-DCMAKE_C_COMPILER=clang"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", env.build, "-j2", "--target"] + list(targets),
                   check=True, stdout=subprocess.DEVNULL)
    env.server_bin = os.path.join(env.build, "src", "server", "quicsteer-server")
    env.load_bin = os.path.join(env.build, "src", "load", "quicsteer-load")
    env.flood_bin = os.path.join(env.build, "src", "load", "quicsteer-flood")
    env.cli_bin = os.path.join(env.build, "src", "cli", "quicsteer")
    env.work = os.path.join(env.build, work)
    os.makedirs(env.work, exist_ok=True)
    env.certdir = os.path.join(env.build, "dev-cert")
    subprocess.run(["bash", os.path.join(TOP, "scripts", "dev-cert.sh"), env.certdir],
                   check=True, stdout=subprocess.DEVNULL)
    env.cert = os.path.join(env.certdir, "cert.pem")
    env.key = os.path.join(env.certdir, "key.pem")
    env.www = os.path.join(env.work, "www")
    os.makedirs(env.www, exist_ok=True)
    return env


def random_file(path, size):
    """|path| holds |size| random octets (kept if it already has that size)."""
    if os.path.exists(path) and os.path.getsize(path) == size:
        return
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 1 << 20)
            f.write(os.urandom(n))
            left -= n


def git_rev():
    return subprocess.run(["git", "-C", TOP, "rev-parse", "--short", "HEAD"],
                          stdout=subprocess.PIPE, text=True).stdout.strip()


def load_avg():
    """The 1, 5 and 15 minute load averages, as strings."""
    with open("/proc/loadavg") as f:
        return f.read().split()[:3]


def run_meta(**extra):
    """What a report says it was made by: the command, the time, the git
    revision and the load average before the run, plus |extra|."""
    meta = {"command": ("python3 %s %s" % (prog(), " ".join(sys.argv[1:]))).strip(),
            "date": datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC"),
            "git": git_rev(), "load_before": load_avg()}
    meta.update(extra)
    return meta


def commands_md(cmds):
    """The Markdown lines of a report's command list: a fenced block,
    "NAME: COMMAND" per entry of the dict |cmds|, sorted by name."""
    return ["```"] + ["%s: %s" % (k, cmds[k]) for k in sorted(cmds)] + ["```"]
