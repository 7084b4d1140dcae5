"""Progress into a log file or pipe: whole lines now and then, never a bar redrawn with carriage returns."""

import io

from tqdm import tqdm

from synthgen.progress import LOG_INTERVAL_S, progress_bar


def test_a_log_file_gets_the_first_and_last_state_as_lines() -> None:
    log = io.StringIO()  # not a terminal, like a log file
    with progress_bar(total=500, desc="render", unit="sound", file=log) as bar:
        for k in range(50):
            bar.update(10)
            bar.set_postfix(silent=k)  # redraws a terminal's bar at once
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue() and log.getvalue().isascii()
    assert len(lines) == 2  # the work took far less than LOG_INTERVAL_S
    assert lines[0].startswith("render:   0%") and "0/500" in lines[0]
    assert lines[-1].startswith("render: 100%") and "500/500" in lines[-1]
    assert LOG_INTERVAL_S >= 10


def test_a_bar_closed_early_writes_where_it_stopped_and_a_disabled_one_writes_nothing() -> None:
    log = io.StringIO()
    with progress_bar(total=10, desc="index", file=log) as bar:
        bar.update(4)
    assert log.getvalue().splitlines()[-1].startswith("index:  40%")
    quiet = io.StringIO()
    with progress_bar(total=10, file=quiet, disable=True) as bar:
        bar.update(10)
    assert quiet.getvalue() == ""


def test_a_line_written_beside_bars_comes_out_alone() -> None:
    log = io.StringIO()
    with progress_bar(total=3, desc="train", file=log) as epochs, progress_bar(total=5, leave=False, file=log):
        tqdm.write("epoch 1/3: train loss 1.0", file=log)
        epochs.update(3)
    assert log.getvalue().splitlines() == [log.getvalue().splitlines()[0], "epoch 1/3: train loss 1.0", log.getvalue().splitlines()[-1]]
    assert "\r" not in log.getvalue() and "3/3" in log.getvalue().splitlines()[-1]


def test_a_passing_bar_stays_silent_until_it_has_run_a_while() -> None:
    log = io.StringIO()
    with progress_bar(total=10, desc="epoch 1/3", leave=False, file=log) as bar:
        bar.update(10)
    assert log.getvalue() == ""
