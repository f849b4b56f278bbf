"""What a run records, on rank 0: TensorBoard scalars under ``<out>/runs/``, the authors'
``<out>/train_log.txt`` and a machine-readable ``<out>/metrics.jsonl`` (one JSON object per
logged step).

Every write is made in the calling thread (TensorBoard's events too, not in a writer thread of
their own), so that one the operating system refuses (a full disk) stops the run with one line
naming the file and the checkpoint to resume from."""

import contextlib
import datetime
import json
import time
from pathlib import Path

from tensorboardX.event_file_writer import EventsWriter
from tensorboardX.proto.event_pb2 import Event
from tensorboardX.summary import scalar

from ligo.base.atomic_write import write_text_atomic
from ligo.training.checkpoint import write_failed

METRICS = "metrics.jsonl"
TRAIN_LOG = "train_log.txt"


class RunLog:
    def __init__(self, output_dir, resume_step: int | None):
        self.output_dir = Path(output_dir)
        self.metrics_path = self.output_dir / METRICS
        self.train_log_path = self.output_dir / TRAIN_LOG
        if resume_step is not None:
            # Lines written after the checkpoint by the interrupted run are replayed now.
            self._keep_up_to(resume_step)
        self.events_dir = self.output_dir / "runs" / datetime.datetime.now().strftime("%b%d_%H-%M-%S")
        with self._writing(self.events_dir):
            self.events_dir.mkdir(parents=True, exist_ok=True)
            self.events = EventsWriter(str(self.events_dir / "events"))  # events.out.tfevents.<time>.<host>
            self.events.flush()

    def _keep_up_to(self, step: int):
        if self.metrics_path.is_file():
            kept = [line for line in _whole_lines(self.metrics_path) if json.loads(line)["step"] <= step]
            with self._writing(self.metrics_path):
                _replace(self.metrics_path, kept)
        if self.train_log_path.is_file():
            kept = [line for line in _whole_lines(self.train_log_path)
                    if not line.startswith("train_step=") or int(line.split(",")[0].split("=")[1]) <= step]
            with self._writing(self.train_log_path):
                _replace(self.train_log_path, kept)

    def note(self, text: str):
        with self._writing(self.train_log_path), self.train_log_path.open("a") as f:
            f.write(text + "\n")

    def record(self, metrics: dict):
        step = metrics["step"]
        with self._writing(self.events_dir):
            for key, value in metrics.items():
                if key != "step" and isinstance(value, (int, float)):
                    self.events.write_event(Event(wall_time=time.time(), step=step, summary=scalar(key, value)))
            self.events.flush()
        with self._writing(self.metrics_path), self.metrics_path.open("a") as f:
            f.write(json.dumps(metrics) + "\n")
        fields = {"train_step": step, "train_time": metrics["train_seconds"], "lr": metrics["lr"],
                  "train_loss": metrics["train_loss"], "train_ppl": metrics["train_ppl"],
                  "eval_ppl": metrics.get("eval_ppl")}
        with self._writing(self.train_log_path), self.train_log_path.open("a") as f:
            f.write(", ".join(f"{key}={_short(value)}" for key, value in fields.items()) + "\n")

    def close(self):
        with self._writing(self.events_dir):
            self.events.close()

    @contextlib.contextmanager
    def _writing(self, path: Path):
        """A write the operating system refuses (a full disk, a file-size limit) is one line."""
        try:
            yield
        except OSError as err:
            raise write_failed(f"'{path}'", err, self.output_dir) from None


def _whole_lines(path: Path) -> list[str]:
    """The file's lines, less a last one without its newline: a write cut short by a kill
    (always after the checkpoint resumed from, so it is replayed)."""
    lines = path.read_text().split("\n")
    return lines[:-1]


def _replace(path: Path, lines: list[str]):
    """Rewrite ``path`` whole, by a rename: a kill now leaves the old file or the new one."""
    write_text_atomic(path, "".join(line + "\n" for line in lines))


def _short(value) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)
