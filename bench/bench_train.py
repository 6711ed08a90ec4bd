"""Training and evaluation speed, measured side by side in one run.

(a) the compiled trainer, 8 seeds side by side; (b) the compiled trainer, 1 seed; (c) a
per-step loop of the same math that calls TensorFlow once per environment step and once per
update, as the original TF1 design did (one `sess.run` per step), on the Gymnasium task.
Prints seed-episodes per second, the ratios, the extrapolated wall time of 8 seeds x 20,000
biorxiv-final episodes, and the time to evaluate 8 seeds x 300 episodes. Then (a) again in
child processes, alternating: TensorFlow's operations on one thread each (the project's default,
`twostep/quiet_tensorflow.py`) against TensorFlow's own default (one thread per core).

    python bench/bench_train.py [--episodes 300] [--loop-episodes 20] [--thread-rounds 3]
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import numpy as np  # noqa: E402

import a2c_lstm as a2c  # noqa: E402
import two_step_env as env  # noqa: E402
from twostep import checkpoints, configs  # noqa: E402
from twostep.quiet_tensorflow import tf  # noqa: E402  # first: TensorFlow without its start-up lines

TASK = configs.preset("biorxiv-final")
AGENT = configs.AgentConfig()


def compiled_rate(seeds, episodes):
    """Seed-episodes per second of `a2c.train` (after one warm-up episode that compiles)."""
    state = a2c.train(a2c.init_state(TASK, AGENT, range(seeds)), 1, progress=False)
    start = time.perf_counter()
    a2c.train(state, episodes, progress=False)
    return seeds * episodes / (time.perf_counter() - start)


@tf.function
def policy_step(params, x, h, c):
    h, c = a2c.lstm_step(params, x, h, c)
    logits, value = a2c.heads(params, h)
    return tf.nn.softmax(logits), value, h, c


@tf.function
def update(params, rms, inputs, actions, rewards):
    """Re-run the LSTM over the recorded episode and apply one update (the TF1 worker's train op)."""
    with tf.GradientTape() as tape:
        tape.watch(params)
        h = c = tf.zeros([1, AGENT.hidden])
        logits, values = [], []
        for t in range(inputs.shape[0]):
            h, c = a2c.lstm_step(params, inputs[t : t + 1], h, c)
            step_logits, value = a2c.heads(params, h)
            logits.append(step_logits)
            values.append(value)
        steps = {"logits": tf.stack(logits), "value": tf.stack(values), "action": actions[:, None], "reward": rewards[:, None]}
        total = tf.reduce_sum(a2c.episode_losses(AGENT, steps)[0])
    grads = checkpoints.Params(*tape.gradient(total, list(params)))
    return a2c.rmsprop_update(AGENT, params, rms, grads)[:2]


def per_step_loop_rate(episodes):
    """Seed-episodes per second of a Python loop calling TensorFlow once per step and once per update."""
    state = a2c.init_state(TASK, AGENT, [0])
    params, rms = a2c._as_tensors(state.params), a2c._as_tensors(state.rms)
    task, rng = env.TwoStepTask(TASK), np.random.default_rng(0)
    obs, _ = task.reset(seed=0)

    def episode():
        nonlocal params, rms, obs
        h = c = tf.zeros([1, AGENT.hidden])
        inputs, actions, rewards, terminated = [], [], [], False
        while not terminated:
            pi, _, h, c = policy_step(params, obs[None], h, c)
            action = int(rng.random() >= pi.numpy()[0, 0])
            inputs.append(obs)
            obs, reward, terminated, _, _ = task.step(action)
            actions.append(action)
            rewards.append(reward)
        obs, _ = task.reset()
        params, rms = update(params, rms, np.array(inputs), np.array(actions, np.int32), np.array(rewards, np.float32))

    episode()  # warm-up: traces both functions
    start = time.perf_counter()
    for _ in range(episodes):
        episode()
    return episodes / (time.perf_counter() - start)


def evaluate_seconds(seeds=8, episodes=300):
    state = a2c.init_state(TASK, AGENT, range(seeds))
    start = time.perf_counter()
    a2c.evaluate(state, episodes)
    compile_and_run = time.perf_counter() - start
    start = time.perf_counter()
    a2c.evaluate(state, episodes)
    return compile_and_run, time.perf_counter() - start


def threads_rate(threads, episodes):
    """(a) in a child process whose operations run on `threads` threads each (0: TensorFlow's default)."""
    child = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--rate-only", "--episodes", str(episodes)],
        env=dict(os.environ, TF_NUM_INTRAOP_THREADS=str(threads)), capture_output=True, text=True, check=True,
    )
    return float(child.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=300, help="timed episodes for the compiled trainer")
    parser.add_argument("--loop-episodes", type=int, default=20, help="timed episodes for the per-step loop")
    parser.add_argument("--thread-rounds", type=int, default=3, help="child processes of each thread setting")
    parser.add_argument("--rate-only", action="store_true", help=argparse.SUPPRESS)  # the child process: (a) alone
    args = parser.parse_args()
    if args.rate_only:
        print(compiled_rate(8, args.episodes))
        return
    rate8 = compiled_rate(8, args.episodes)
    rate1 = compiled_rate(1, args.episodes)
    loop = per_step_loop_rate(args.loop_episodes)
    first_eval, warm_eval = evaluate_seconds()
    print(f"task biorxiv-final, {TASK.steps_per_episode} LSTM steps per episode, {os.cpu_count()} CPU cores")
    print(f"(a) compiled, 8 seeds side by side: {rate8:10.1f} seed-episodes/s")
    print(f"(b) compiled, 1 seed:               {rate1:10.1f} seed-episodes/s")
    print(f"(c) per-step loop, 1 seed:          {loop:10.2f} seed-episodes/s ({1 / loop:.3f} s per episode)")
    print(f"ratio (a)/(c): {rate8 / loop:8.1f}x   ratio (b)/(c): {rate1 / loop:8.1f}x   ratio (a)/(b): {rate8 / rate1:5.2f}x")
    print(f"extrapolated 8 seeds x 20,000 episodes: (a) {8 * 20000 / rate8 / 60:.1f} min, "
          f"(c) {8 * 20000 / loop / 3600:.1f} h")
    print(f"evaluate 8 seeds x 300 episodes: {warm_eval:.2f} s compiled ({first_eval:.2f} s on the first call, with compilation)")
    rates = {1: [], 0: []}
    for round_ in range(args.thread_rounds):
        for threads in (1, 0) if round_ % 2 == 0 else (0, 1):
            rates[threads].append(threads_rate(threads, args.episodes))
    one, default = statistics.median(rates[1]), statistics.median(rates[0])
    print(f"(a) in {args.thread_rounds} child processes each, median seed-episodes/s: one thread per operation {one:.1f}, "
          f"TensorFlow's default ({os.cpu_count()} threads) {default:.1f}; ratio {one / default:.2f}x")


if __name__ == "__main__":
    main()
