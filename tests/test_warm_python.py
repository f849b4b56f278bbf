"""The warm interpreter the tests run many commands on (tests/warm_python.py) behaves as python:
arguments, working directory, environment, streams and exit codes, and dying as python dies."""

import os
import signal
import subprocess
import time

from conftest import REPO


def test_the_warm_interpreter_runs_commands_as_python_does(warm_python, tmp_path):
    script = tmp_path / "s.py"
    script.write_text("import sys, os\nprint(sys.argv, os.getcwd(), os.environ['X'], __name__)\nsys.exit(3)\n")
    result = subprocess.run([warm_python, str(script), "a b"], cwd=tmp_path, env={**os.environ, "X": "y"},
                            capture_output=True, text=True)
    assert result.returncode == 3
    assert result.stdout == f"{[str(script), 'a b']} {tmp_path} y __main__\n"
    result = subprocess.run([warm_python, "-", "z"], input="import sys; print(sys.argv[1:]); raise ValueError('v')",
                            capture_output=True, text=True)
    assert result.returncode == 1 and result.stdout == "['z']\n" and "ValueError: v" in result.stderr
    result = subprocess.run([warm_python, "-m", "tokenization.train_tokenizer", "--help"], cwd=REPO,
                            capture_output=True, text=True)
    assert result.returncode == 0 and "--vocab_size" in result.stdout


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_killed_client_takes_its_child_along_and_a_killed_child_its_client(warm_python, tmp_path):
    pid_file = tmp_path / "pid"
    script = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    client = subprocess.Popen([warm_python, "-c", script])
    deadline = time.monotonic() + 30
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline and client.poll() is None
        time.sleep(0.05)
    child = int(pid_file.read_text())
    assert child != client.pid and _alive(child)
    client.kill()
    client.wait()
    deadline = time.monotonic() + 5
    while _alive(child):
        assert time.monotonic() < deadline, "the child outlived its client by 5 s"
        time.sleep(0.02)
    # The other way: a child that kills itself with SIGKILL leaves a client killed by SIGKILL.
    result = subprocess.run([warm_python, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"])
    assert result.returncode == -signal.SIGKILL



def test_the_reader_of_a_pipe_between_two_commands_sees_its_end(warm_python, tmp_path):
    # Both ends of `a | b` reach the server at once; a child that inherited another request's
    # descriptors held the write end of its own input and waited for its end forever.
    pipelines = " & ".join(
        f"{warm_python} -c 'print({i})' | {warm_python} -c 'import sys; print(sys.stdin.read().strip())' "
        f"> {tmp_path}/{i}"
        for i in range(12))
    result = subprocess.run(["bash", "-c", f"{pipelines} & wait"], timeout=60, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert [(tmp_path / str(i)).read_text() for i in range(12)] == [f"{i}\n" for i in range(12)]
