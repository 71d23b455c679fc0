"""What Python work in another thread of the same process does to a training loop (the GIL).

The app's worker trains in a thread of the Streamlit server, beside the script threads that
redraw pages and the sidebar's live curves. This reproduces that without Streamlit or a browser:
one thread runs the bare loop of bench/live_training.py (default ModelConfig, Adam, batch 64,
Fashion-MNIST as one float32 tensor, one torch thread); another thread of the same process
builds the sidebar's live-curves figure (ui.figures.training_curves with 400 live points and
5 epoch rows, then Figure.to_json(), as st.plotly_chart serialises it) either never ("alone"),
--per-second times a second (about what the polling fragment and the live reruns ask for), or
back to back ("nonstop": a long page rerun). Each condition trains --steps steps or stops at
--max-seconds, whichever comes first, and the conditions alternate --rounds times.

Reported per condition (medians): the loop's images/s, and from /proc/self/task/<tid>/schedstat
the share of the time the training thread was on a CPU, runnable but waiting for a CPU, and
blocked (the rest: waiting for the GIL), and how long one figure took.

    python bench/gil_contention.py --rounds 2
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

from common import load_average, print_table


def schedstat(tid: int) -> tuple[float, float]:
    with open(f"/proc/self/task/{tid}/schedstat") as f:
        on_cpu, waiting, _ = f.read().split()
    return int(on_cpu) / 1e9, int(waiting) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="alternations (2)")
    parser.add_argument("--steps", type=int, default=400, help="steps per condition (400)")
    parser.add_argument("--max-seconds", type=float, default=20, help="per condition (20)")
    parser.add_argument("--per-second", type=float, default=3, help="figures a second (3)")
    args = parser.parse_args()

    import torch  # after common.py has put the repository on sys.path
    import torch.nn.functional as F

    from cnn_core import CNN, ModelConfig
    from cnn_core.data import load_dataset
    from ui import figures

    torch.set_num_threads(1)
    split = load_dataset("fashion-mnist")
    x = torch.from_numpy(split.train.as_float()).unsqueeze(1)  # (N, 1, 28, 28)
    y = torch.from_numpy(split.train.labels.astype("int64"))  # (N,)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    live = [(i / 100, 1 / (1 + i / 50), 0.5 + i / 1000) for i in range(400)]
    rows = [{"epoch": e, "train_loss": 0.5, "test_loss": 0.6, "train_accuracy": 0.8,
             "test_accuracy": 0.79} for e in range(1, 6)]  # fmt: skip

    def figure() -> None:
        figures.training_curves(rows, compact=True, live=live).to_json()

    def train(out: dict) -> None:
        torch.set_num_threads(1)  # per OS thread
        model = CNN(ModelConfig(), seed=0)
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)

        def step(i: int) -> None:
            start = (i * 64) % (len(x) - 64)
            idx = order[start : start + 64]
            opt.zero_grad()
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()

        for i in range(20):  # warm-up
            step(i)
        tid = threading.get_native_id()
        (on0, wait0), t0, done = schedstat(tid), time.perf_counter(), 0
        while done < args.steps and time.perf_counter() - t0 < args.max_seconds:
            step(done)
            done += 1
        wall = time.perf_counter() - t0
        on1, wait1 = schedstat(tid)
        out.update(rate=done * 64 / wall, on=(on1 - on0) / wall, wait=(wait1 - wait0) / wall)

    def draw_figures(stop: threading.Event, per_second: float, took: list) -> None:
        while not stop.is_set():
            t = time.perf_counter()
            figure()
            took.append(time.perf_counter() - t)
            if per_second:
                time.sleep(max(0.0, 1 / per_second - (time.perf_counter() - t)))

    figure()  # warm-up: Plotly's first figure imports and validates a lot
    conditions = {"alone": None, f"{args.per_second:g} figures a second": args.per_second,
                  "figures back to back": 0}  # fmt: skip
    results = {name: [] for name in conditions}
    for _ in range(args.rounds):
        for name, per_second in conditions.items():
            out, stop, took = {}, threading.Event(), []
            other = None
            if per_second is not None:
                other = threading.Thread(target=draw_figures, args=(stop, per_second, took))
                other.start()
            train(out)
            stop.set()
            if other is not None:
                other.join()
            out["figure_ms"] = 1000 * statistics.median(took) if took else None
            results[name].append(out)
    print(f"Training loop beside a thread building Plotly figures, medians of {args.rounds} "
          f"({load_average()} at the end)")  # fmt: skip
    table = []
    for name, rs in results.items():
        on = statistics.median(r["on"] for r in rs)
        wait = statistics.median(r["wait"] for r in rs)
        ms = [r["figure_ms"] for r in rs if r["figure_ms"] is not None]
        table.append([name, f"{statistics.median(r['rate'] for r in rs):,.0f}", f"{on:.0%}",
                      f"{wait:.0%}", f"{max(0.0, 1 - on - wait):.0%}",
                      f"{statistics.median(ms):.0f}" if ms else ""])  # fmt: skip
    headers = ["other thread", "images/s", "trainer on a CPU", "waiting for a CPU",
               "blocked (GIL)", "ms per figure"]  # fmt: skip
    print_table(headers, table)


if __name__ == "__main__":
    main()
