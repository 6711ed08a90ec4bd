"""Progress that reads well where it lands: a bar in a terminal, plain lines in a log."""

import io
import re

import pytest

import a2c_lstm as a2c
from twostep import configs, progress


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_outside_a_terminal_a_line_every_few_units_and_one_at_the_end():
    log = io.StringIO()
    with progress.progress_bar(1000, initial=100, unit="episode", desc="train", every=250, stream=log) as bar:
        for _ in range(9):
            bar.set_postfix(reward=0.5)
            bar.update(100)
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    assert [re.match(r"train: episode (\d+)/1000", line).group(1) for line in lines] == ["400", "700", "1000"]
    assert all(re.search(r"reward 0.5, [\d.e+]+ episodes/s$", line) for line in lines)


def test_outside_a_terminal_a_line_every_so_many_seconds(monkeypatch):
    clock = iter(range(0, 1000, 10))  # each reading of the clock 10 s after the last
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    log = io.StringIO()
    bar = progress.progress_bar(100, unit="step", seconds=30, stream=log)
    for _ in range(7):
        bar.update(1)
    assert [line.split(",")[0] for line in log.getvalue().splitlines()] == ["step 3/100 (3%)", "step 6/100 (6%)"]


def test_disabled_shows_nothing_anywhere():
    for stream in (io.StringIO(), Terminal()):
        with progress.progress_bar(10, enabled=False, stream=stream, every=1) as bar:
            bar.update(10)
        assert stream.getvalue() == ""


def train_twice(more):
    """5 episodes quietly, then `more` with progress (the first of them compiles the training step)."""
    state = a2c.train(a2c.init_state(configs.TaskConfig(trials_per_episode=4), configs.AgentConfig(), [0, 1]), 5, progress=False)
    a2c.train(state, more)


def test_in_a_terminal_the_bar_shows_the_absolute_position_and_leaves_out_compilation(monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    train_twice(3)
    frames = terminal.getvalue().replace("\r", "\n").split("\n")
    positions = [re.search(r"(\d+)/(\d+)", f).groups() for f in frames if re.search(r"\d+/\d+", f)]
    assert positions[0] == ("5", "8") and positions[-1] == ("8", "8")
    assert ("6", "8") in positions  # after the first, compiling episode the bar restarts its clock there
    assert all(int(total) == 8 for _, total in positions)


@pytest.mark.parametrize("every", [2, 1000])
def test_training_into_a_log_file_writes_plain_lines(monkeypatch, tmp_path, every):
    with open(tmp_path / "train.log", "w") as log:  # as `two-step train ... 2> train.log`
        monkeypatch.setattr("sys.stderr", log)
        monkeypatch.setattr(a2c, "PLAIN_LINE_EVERY", every)
        train_twice(9)
    text = (tmp_path / "train.log").read_text()
    positions = re.findall(r"^train: episode (\d+)/14 \(\d+%\)(?:, reward [\d.-]+)?, [\d.e+]+ episodes/s$", text, re.MULTILINE)
    assert "\r" not in text and len(positions) == len(text.splitlines())
    assert positions == (["8", "10", "12", "14"] if every == 2 else ["14"])  # counted from 6, after compiling; the end always
    assert ", reward " in text.splitlines()[-1]  # the mean reward of the last 10 episodes, from episode 10 on
