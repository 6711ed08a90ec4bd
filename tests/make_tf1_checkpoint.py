"""Build a genuine TF1 checkpoint of the reference network, and its outputs on an input sequence.

Run in its own process with TF_USE_LEGACY_KERAS=1 (tf.compat.v1's LSTMCell needs tf_keras):
    python tests/make_tf1_checkpoint.py <folder>
Writes <folder>/model-20000.cptk.* and a `checkpoint` file with a tf.compat.v1 Saver, with the
reference reproduction's variable layout: the `global` network, the worker's copy under
`worker_0/`, and the RMSProp slots that the worker's optimiser created for the global variables
(`worker_0/global/.../RMSProp`, `.../RMSProp_1`), after two updates. <folder>/expected.npz holds the
inputs, the TF1 graph's policy and value, the variable names and the slots' values, for
tests/test_reliability.py to compare with what `load_model` reads.
"""

import os
import sys

import numpy as np
import tensorflow as tf

tf1 = tf.compat.v1
HIDDEN, INPUTS, STEPS = 48, 7, 30


def network(x):
    """The reference's network in the current variable scope: (policy, value, variables)."""
    cell = tf1.nn.rnn_cell.LSTMCell(HIDDEN, state_is_tuple=True)
    outputs, _ = tf1.nn.dynamic_rnn(cell, x, dtype=tf.float32)
    h = tf.reshape(outputs, [-1, HIDDEN])
    with tf1.variable_scope("fully_connected"):
        policy_w = tf1.get_variable("weights", [HIDDEN, 2], initializer=tf1.random_normal_initializer(0, 0.5))
    with tf1.variable_scope("fully_connected_1"):
        value_w = tf1.get_variable("weights", [HIDDEN, 1], initializer=tf1.random_normal_initializer(0, 1.0))
    return tf.nn.softmax(tf.matmul(h, policy_w)), tf.matmul(h, value_w)[:, 0]


def main(folder):
    tf1.disable_eager_execution()
    rng = np.random.default_rng(0)
    inputs = np.zeros((1, STEPS, INPUTS), np.float32)  # one-hot state, reward, one-hot action, counter
    inputs[0, np.arange(STEPS), rng.integers(3, size=STEPS)] = 1.0
    inputs[0, :, 3] = rng.integers(2, size=STEPS)
    inputs[0, np.arange(STEPS), 4 + rng.integers(2, size=STEPS)] = 1.0
    inputs[0, :, 6] = 2 * np.arange(STEPS)
    with tf.Graph().as_default():
        x = tf1.placeholder(tf.float32, [1, STEPS, INPUTS])
        with tf1.variable_scope("global"):
            policy, value = network(x)
        episodes = tf1.get_variable("global_episodes", [], tf.int32, initializer=tf1.constant_initializer(20000))
        global_vars = tf1.get_collection(tf1.GraphKeys.TRAINABLE_VARIABLES, "global")
        # the worker: its own copy of the network, whose gradients the shared RMSProp applies to the
        # global variables from inside the worker's scope, as the reference's A3C worker does
        trainer = tf1.train.RMSPropOptimizer(learning_rate=0.05, decay=0.9, epsilon=1e-10)
        with tf1.variable_scope("worker_0"):
            worker_policy, worker_value = network(x)
            worker_vars = tf1.get_collection(tf1.GraphKeys.TRAINABLE_VARIABLES, "worker_0")
            loss = tf.reduce_sum(tf.square(worker_value - 1.0)) - tf.reduce_sum(tf.math.log(worker_policy[:, 0]))
            apply_gradients = trainer.apply_gradients(zip(tf.gradients(loss, worker_vars), global_vars))
        sync = [w.assign(g) for w, g in zip(worker_vars, global_vars)]
        # a non-zero bias, so the forget-gate offset and gate order are both exercised
        bias = [v for v in tf1.global_variables() if v.name == "global/rnn/lstm_cell/bias:0"][0]
        randomise_bias = bias.assign(tf1.random_normal([4 * HIDDEN], stddev=0.5))
        with tf1.Session() as session:
            session.run(tf1.global_variables_initializer())
            session.run(randomise_bias)
            for _ in range(2):  # two updates: the RMSProp slots move away from their initial ones
                session.run(sync)
                session.run(apply_gradients, {x: inputs})
            names = sorted(v.name for v in tf1.global_variables())
            slots = {v.name[: -len(":0")]: session.run(v) for v in tf1.global_variables() if v.name.endswith("/RMSProp:0")}
            pi, v = session.run([policy, value], {x: inputs})
            tf1.train.Saver().save(session, os.path.join(folder, "model-20000.cptk"))
            assert session.run(episodes) == 20000
    np.savez(os.path.join(folder, "expected.npz"), inputs=inputs[0], policy=pi, value=v, names=np.array(names),
             slot_names=np.array(sorted(slots)), slots=np.array([slots[k] for k in sorted(slots)], dtype=object))


if __name__ == "__main__":
    main(sys.argv[1])
