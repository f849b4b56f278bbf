"""A warm interpreter for the tests that start many Python processes: a server that imported
torch and transformers once forks a child for each command, which then runs exactly what
`python ARGS` would (script, -m, -c or -), with the caller's arguments, working directory,
environment and standard streams. Importing those libraries costs ~5-10 s a process on 2 busy
cores, more than the tiny work most such commands do.

A child dies with its client (a SIGKILL of the client, from outside or from torchrun, closes
the connection the child watches) and the client dies of the signal that killed the child, so
killing and being killed look as they do for a plain python, a few milliseconds apart. Only for
commands whose numerics are not compared with a process started otherwise: the children run
on one intra-op thread, as the server was started."""

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SERVER = r'''
import array, atexit, io, json, os, runpy, signal, socket, struct, sys, threading, traceback
# What every tool imports, once (the project's own code is left to each child).
import numpy, torch, transformers, tokenizers, h5py, tqdm, configargparse, tensorboardX, matplotlib
from transformers import BertForMaskedLM, BertTokenizerFast, DataCollatorForLanguageModeling
# The other families' model classes and the torch.distributed parts every run imports (~0.2 s a run).
from transformers import GPT2LMHeadModel, LlamaForCausalLM, RobertaForMaskedLM, ViTForImageClassification
import torch.distributed.checkpoint, torch.distributed.checkpoint.state_dict, torch.distributed.fsdp
import torch.distributed.elastic.agent.server.api, torch.distributed.run
import transformers.loss.loss_utils
import sklearn.model_selection, torchvision.datasets.folder, torchvision.transforms.v2  # the image runs'
# transformers builds its table of checkpoint renamings (~1000 regular expressions, 0.5 s) at a
# process's first model save or load: once here instead.
from transformers.conversion_mapping import get_checkpoint_conversion_mapping
get_checkpoint_conversion_mapping("bert")
# The children's garbage collections skip what the server holds (gc.collect() at the end of a
# run took 0.25 s walking the imported libraries' objects), and leave its pages unwritten.
import gc
gc.freeze()
base_path = [p for p in sys.path[1:]]
path = sys.argv[1]
listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
listener.bind(path + ".tmp")
os.rename(path + ".tmp", path)
listener.listen(16)

def child(conn, request, fds):
    listener.close()
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    # The child dies with its client, as a process dies with itself: the client's end of the
    # connection closes when it dies, however (a SIGKILL from outside, from torchrun...).
    # The thread blocks every signal, so that signals go to the main thread as in a plain python
    # (which has no other thread): a script that blocks one (run_*_distributed.py) gets it pending.
    blocked = threading.Event()
    def die_with_client():
        signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
        blocked.set()
        while conn.recv(1):
            pass
        os.kill(os.getpid(), signal.SIGKILL)
    threading.Thread(target=die_with_client, daemon=True).start()
    blocked.wait()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL if sig != signal.SIGINT else signal.default_int_handler)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8", line_buffering=True)
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8", line_buffering=True)
    extra = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    args = request["argv"]
    code = 0
    try:
        if args[0] == "-m":
            sys.argv = [args[1]] + args[2:]
            sys.path[:] = [os.getcwd()] + extra + base_path
            runpy.run_module(args[1], run_name="__main__", alter_sys=True)
        elif args[0] in ("-c", "-"):
            source = args[1] if args[0] == "-c" else sys.stdin.read()
            sys.argv = (["-c"] + args[2:]) if args[0] == "-c" else args
            sys.path[:] = [""] + extra + base_path
            main = type(sys)("__main__")
            sys.modules["__main__"] = main
            exec(compile(source, "<string>" if args[0] == "-c" else "<stdin>", "exec"), main.__dict__)
        else:
            sys.argv = args
            sys.path[:] = [os.path.dirname(os.path.abspath(args[0]))] + extra + base_path
            runpy.run_path(args[0], run_name="__main__")
    except SystemExit as stop:
        if stop.code is None:
            code = 0
        elif isinstance(stop.code, int):
            code = stop.code
        else:
            print(stop.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    try:
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code & 0xFF)

def start(conn):
    """Receives a request and forks its child; returns the child's pid."""
    fds = array.array("i")
    data, ancillary, _, _ = conn.recvmsg(1 << 20, socket.CMSG_SPACE(3 * fds.itemsize))
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
    while not data.endswith(b"\n"):
        data += conn.recv(1 << 20)
    request = json.loads(data)
    pid = os.fork()
    if pid == 0:
        child(conn, request, list(fds))
    for fd in fds:
        os.close(fd)
    return pid

def wait(conn, pid):
    conn.sendall(struct.pack("!i", pid))
    _, status = os.waitpid(pid, 0)
    conn.sendall(struct.pack("!i", os.waitstatus_to_exitcode(status)))
    conn.close()

# Requests are received and forked here, one at a time, and only waited for in threads: a child
# forked while another thread still held a client's descriptors would inherit them. It did: the
# reader of a shell pipe `a | b` held the pipe's write end, got from a's request, and never saw
# its end (the wiki pipeline hung).
while True:
    conn, _ = listener.accept()
    pid = start(conn)
    threading.Thread(target=wait, args=(conn, pid), daemon=True).start()
'''

CLIENT = r'''#!{python} -IS
import array, json, os, signal, socket, struct, sys
conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
conn.connect({socket!r})
request = json.dumps({{"argv": sys.argv[1:], "cwd": os.getcwd(), "env": dict(os.environ)}}).encode() + b"\n"
conn.sendmsg([request], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [0, 1, 2]))])
def receive():
    data = b""
    while len(data) < 4:
        more = conn.recv(4 - len(data))
        if not more:
            sys.exit(1)
        data += more
    return struct.unpack("!i", data)[0]
pid = receive()
# Where tests/training_helpers.crash finds the command a killed client ran, to wait for its end.
note = os.path.join(os.path.dirname({socket!r}), "children", str(os.getpid()))
with open(note, "w") as out:
    out.write(str(pid))
# `timeout`, Ctrl-C and a cluster's preemption signals reach the child
for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
    signal.signal(sig, lambda number, frame: os.kill(pid, number))
code = receive()
os.unlink(note)  # only a killed client leaves its note
if code < 0:  # killed by a signal: so is the client, as its caller would see a python killed
    if -code != signal.SIGKILL:  # whose action cannot be changed
        signal.signal(-code, signal.SIG_DFL)
    os.kill(os.getpid(), -code)
sys.exit(code)
'''


def start(folder: Path):
    """Starts the server in ``folder``; returns (the client's path, the server process)."""
    sock = str(folder / "s")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    server = subprocess.Popen([sys.executable, "-c", SERVER, sock], env=env, cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    while not os.path.exists(sock):
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise AssertionError(f"the warm interpreter did not start: {server.stderr.read().decode()[-2000:]}")
        time.sleep(0.1)
    (folder / "children").mkdir(exist_ok=True)
    client = folder / "python"
    client.write_text(CLIENT.format(python=sys.executable, socket=sock))
    client.chmod(0o755)
    return str(client), server
