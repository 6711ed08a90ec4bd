"""Tiny GRUs that predict people's choices in Daw et al. 2011's two-step task, after Ji-An, Benna &
Mattar 2025 ("Discovering cognitive strategies with tiny recurrent neural networks", Nature
644:993, doi:10.1038/s41586-025-09142-4).

Ji-An et al. fit GRUs of 1 to 4 units to the choices of animals and people (among them Gillan et
al. 2016's 1,961 people on this task) and compare them with classical models by the negative
log-likelihood of held-out choices. The network here:

- a GRU (Cho et al. 2014) of `units` units, hidden state zero at the start of each sequence:
  z = sig(x Wz + h Uz + bz), r = sig(x Wr + h Ur + br), h~ = tanh(x Wh + (r * h) Uh + bh),
  h' = z * h + (1 - z) * h~;
- at each answered trial it reads the events of the last answered trial before it (one-hot
  first-stage action, one-hot second-stage state, one-hot second-stage choice, reward: 7 inputs,
  zeros before the first), then a linear readout with bias gives 3 logits: stage 1 (action 1 over
  0), stage 2 in S2 and stage 2 in S3 (option 1 over 0); the second-stage choice is scored with
  the logit of the state the trial reached. A missed trial is skipped: the state passes through
  unchanged and nothing is predicted there;
- the loss of a network is the sum of -(log p stage 1 + log p stage 2) over its training trials,
  divided by their number, plus an L1 penalty on the recurrent weights; Adam, full batch; each
  network keeps the weights of its best validation NLL (per choice) and stops counting after
  `patience` steps without improving on it.

From Ji-An et al.'s code (cognitive_dynamics, read at github.com/mmatsumo/tinyRNN:
training_experiments/exp_Gillan.py, agents/RNNAgentTrainer.py, datasets/GillanHumanDataset.py):
GRU, hidden state starting at zero and not trained, a fully connected readout to one softmax per
pair of options (equivalent to our 3 logits), Adam (AdamW without weight decay) at learning rate
0.005, L1 1e-5 on the recurrent weights, validation loss checked every epoch, the best weights
kept, stop after 200 epochs without improvement or 10,000 epochs, initial weights uniform on
+-1/sqrt(units) (PyTorch's GRU and Linear defaults).

Deviations from that code:
- one GRU step per trial, reading the previous trial's events; Ji-An et al. take two steps per
  trial (first-stage action and state reached, then second-stage choice and reward, 10 inputs), so
  their second-stage prediction also sees the current trial's first-stage action. Ours sees only
  which state was reached (through which logit scores the choice);
- the first trial's state comes from one GRU step on zero input, not from the zero state itself;
- missed trials are skipped, where their code feeds placeholder events and masks the loss;
- full-batch Adam over all of a network's sequences, where they take minibatches of 100 sequences
  per update for Gillan's data; patience and maximum are counted in updates, not epochs;
- the training loss is per trial (both stages summed), theirs per choice, so the same L1 weight
  counts half as much here;
- many networks train side by side in one compiled function (each with its own weights, Adam
  slots, masks and early stopping), as PureJaxRL trains many agents; network f trained among others
  ends with the weights it would reach alone.
"""

import dataclasses
import functools
from typing import NamedTuple

import numpy as np

from twostep.configs import S2, S3
from twostep.quiet_tensorflow import tf

N_INPUTS = 7  # one-hot first-stage action, one-hot second-stage state, one-hot second-stage choice, reward
N_LOGITS = 3  # stage 1, stage 2 in S2, stage 2 in S3
ADAM_BETA1, ADAM_BETA2, ADAM_EPSILON = 0.9, 0.999, 1e-8  # Kingma & Ba's defaults, as PyTorch's AdamW
TARGETS = ("action", "state", "choice2")


@dataclasses.dataclass(frozen=True)
class RNNConfig:
    """A tiny GRU and how it trains (defaults: Ji-An et al.'s where they fit, see the module docstring)."""

    units: int = 2  # hidden units (Ji-An et al.: 1 to 4)
    learning_rate: float = 0.01  # Adam's step size
    max_steps: int = 3000  # full-batch Adam steps at most
    steps_per_check: int = 25  # steps per compiled call; validation NLL checked after each
    patience: int = 300  # steps without validation improvement before a network stops counting
    init_scale: float = 1.0  # weights start uniform on +-init_scale / sqrt(units)
    l1_recurrent: float = 1e-5  # L1 penalty on the recurrent weights U
    seed: int = 0  # network f starts from the stream (seed, f)

    def __post_init__(self):
        for name in ("units", "max_steps", "steps_per_check", "patience"):
            value = getattr(self, name)
            if not (isinstance(value, int) and not isinstance(value, bool) and value > 0):
                raise ValueError(f"RNNConfig.{name}={value!r}: expected an integer > 0")
        if self.max_steps % self.steps_per_check:
            raise ValueError(
                f"RNNConfig.max_steps={self.max_steps!r}: expected a multiple of steps_per_check={self.steps_per_check}"
            )
        for name in ("learning_rate", "init_scale"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value) and value > 0):
                raise ValueError(f"RNNConfig.{name}={value!r}: expected a finite number > 0")
        value = self.l1_recurrent
        if not (isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value) and value >= 0):
            raise ValueError(f"RNNConfig.l1_recurrent={self.l1_recurrent!r}: expected a finite number >= 0")
        if not (isinstance(self.seed, int) and not isinstance(self.seed, bool) and self.seed >= 0):
            raise ValueError(f"RNNConfig.seed={self.seed!r}: expected an integer >= 0")


class Weights(NamedTuple):
    """One GRU per network f (leading axis F); gate blocks in the order z, r, candidate."""

    kernel: np.ndarray  # [F, 7, 3 units] input weights W
    recurrent: np.ndarray  # [F, units, 3 units] recurrent weights U
    bias: np.ndarray  # [F, 3 units]
    readout: np.ndarray  # [F, units, 3] to the logits of stage 1, stage 2 in S2, stage 2 in S3
    readout_bias: np.ndarray  # [F, 3]


class Adam(NamedTuple):
    """Adam's moment estimates (shaped like the weights) and the number of steps taken."""

    mean: Weights
    square: Weights
    count: np.ndarray  # scalar


# ---------------------------------------------------------------- data


def sequence_inputs(records) -> dict:
    """What the networks read from per-trial records [N, T] ("action", "state", "choice2",
    "reward", "missed"): inputs [N, T, 7] (the events of the last answered trial before each
    trial, zeros before the first), the targets "action", "state", "choice2" [N, T] (int32;
    placeholders 0, S2, 0 at missed trials) and "answered" [N, T] (bool)."""
    missing = [key for key in (*TARGETS, "reward", "missed") if key not in records]
    if missing:
        raise ValueError(f"records lack {missing}: expected action, state, choice2, reward and missed")
    answered = ~np.asarray(records["missed"], bool)
    if answered.ndim != 2:
        raise ValueError(f"records['missed'] has shape {answered.shape}: expected [sequences, trials]")
    fields = {key: np.asarray(records[key]) for key in (*TARGETS, "reward")}
    for key, values in fields.items():
        if values.shape != answered.shape:
            raise ValueError(f"records[{key!r}] has shape {values.shape}: expected {answered.shape}, as records['missed']")
    for key, allowed in (("action", (0, 1)), ("state", (S2, S3)), ("choice2", (0, 1)), ("reward", (0.0, 1.0))):
        bad = answered & ~np.isin(fields[key], allowed)
        if bad.any():
            n, t = np.argwhere(bad)[0]
            raise ValueError(
                f"records[{key!r}][{n}, {t}]={fields[key][n, t].item()!r} on a trial not missed: expected one of {allowed}"
            )
    action, choice2 = (np.where(answered, fields[key], 0).astype(np.int32) for key in ("action", "choice2"))
    state = np.where(answered, fields["state"], S2).astype(np.int32)
    reward = np.where(answered, fields["reward"], 0.0)
    events = np.concatenate([np.eye(2)[action], np.eye(2)[state - S2], np.eye(2)[choice2], reward[..., None]], axis=-1)
    n_trials = answered.shape[1]
    last = np.maximum.accumulate(np.where(answered, np.arange(n_trials), -1), axis=1)  # last answered trial up to t
    previous = np.pad(last[:, :-1], [(0, 0), (1, 0)], constant_values=-1)  # last answered trial before t
    inputs = np.take_along_axis(events, np.maximum(previous, 0)[..., None], axis=1) * (previous >= 0)[..., None]
    return {"inputs": inputs.astype(np.float32), "action": action, "state": state, "choice2": choice2, "answered": answered}


def gather_batch(data, members):
    """Each network's sequences: every array of `data` [N, T, ...] taken at members [F, B] -> [F, B, T, ...]."""
    return {key: np.asarray(value)[members] for key, value in data.items()}


# ---------------------------------------------------------------- network


def weight_shapes(units) -> Weights:
    """The shape of each weight of one network."""
    return Weights(kernel=(N_INPUTS, 3 * units), recurrent=(units, 3 * units), bias=(3 * units,),
                   readout=(units, N_LOGITS), readout_bias=(N_LOGITS,))


def init_weights(config: RNNConfig, n_networks: int) -> Weights:
    """Weights of `n_networks` GRUs, network f drawn from the stream (config.seed, f), each entry
    uniform on +-init_scale / sqrt(units) (PyTorch's default for GRU and Linear)."""
    if not (isinstance(n_networks, int) and n_networks > 0):
        raise ValueError(f"n_networks={n_networks!r}: expected an integer > 0")
    bound = config.init_scale / np.sqrt(config.units)
    per_network = []
    for f in range(n_networks):
        rng = np.random.default_rng([config.seed, f])
        per_network.append([rng.uniform(-bound, bound, shape) for shape in weight_shapes(config.units)])
    return Weights(*(np.stack(arrays).astype(np.float32) for arrays in zip(*per_network)))


def gru_gates(recurrent, x_part, h):
    """The update gate z, reset gate r and candidate h~ (Cho et al. 2014) of every network from
    x_part = x W + b [..., F, B, 3 units] and h [..., F, B, units]."""
    units = h.shape[-1]
    xz, xr, xh = tf.split(x_part, 3, axis=-1)
    hz, hr = tf.split(tf.einsum("...fbu,fuj->...fbj", h, recurrent[..., : 2 * units]), 2, axis=-1)
    z, r = tf.sigmoid(xz + hz), tf.sigmoid(xr + hr)
    return z, r, tf.tanh(xh + tf.einsum("...fbu,fuj->...fbj", r * h, recurrent[..., 2 * units :]))


def input_parts(inputs, kernel, bias):
    """x W + b [T, F, B, 3 units] of inputs [T, F, B, 7]."""
    return tf.einsum("tfbi,fij->tfbj", inputs, kernel) + bias[:, None]


def gru_scan(x_parts, recurrent, answered):
    """The state after each trial [T, F, B, units] from x_parts [T, F, B, 3 units] and answered
    [T, F, B]: h' = z * h + (1 - z) * h~ at answered trials, h unchanged through missed ones."""

    def step(h, trial):
        x_part, answered_now = trial
        z, _, candidate = gru_gates(recurrent, x_part, h)
        return tf.where(answered_now[..., None], z * h + (1.0 - z) * candidate, h)

    h0 = tf.zeros(x_parts.shape[1:3] + [recurrent.shape[1]], x_parts.dtype)
    return tf.scan(step, (x_parts, answered), initializer=h0)


@tf.custom_gradient
def recurrence(inputs, answered, kernel, bias, recurrent):
    """`gru_scan` of inputs [T, F, B, 7] with its reverse pass written out: every step's local
    derivatives at once, one reverse scan carrying dL/dh, then each weight's gradient as one product
    over all trials. The tape's own reverse pass through the scan gives the same numbers (tested)
    but its time grows faster than the number of sequences x trials (3.4 times as long for 5 x
    2,000 sequences of 200 trials), and it is not bit for bit the same for one network alone as
    among others."""
    x_parts = input_parts(inputs, kernel, bias)
    hidden = gru_scan(x_parts, recurrent, answered)

    def reverse_pass(d_hidden):
        units = hidden.shape[-1]
        before = tf.concat([tf.zeros_like(hidden[:1]), hidden[:-1]], axis=0)  # the state each step starts from
        z, r, candidate = gru_gates(recurrent, x_parts, before)
        stepped = answered[..., None]
        keep = tf.where(stepped, z, 1.0)  # dh'/dh along the direct path
        d_update = tf.where(stepped, (before - candidate) * z * (1.0 - z), 0.0)  # dh'/d(update pre-activation)
        d_candidate = tf.where(stepped, (1.0 - z) * (1.0 - candidate * candidate), 0.0)  # dh'/d(candidate pre-activation)
        d_reset = before * r * (1.0 - r)  # d(r * h)/d(reset pre-activation), per unit of r * h
        recurrent_zr = tf.transpose(recurrent[..., : 2 * units], [0, 2, 1])
        recurrent_h = tf.transpose(recurrent[..., 2 * units :], [0, 2, 1])

        def step(carry, t):
            d_h = d_hidden[t] + carry[0]
            d_az, d_ah = d_h * d_update[t], d_h * d_candidate[t]
            d_rh = tf.einsum("fbj,fju->fbu", d_ah, recurrent_h)
            d_ar = d_rh * d_reset[t]
            d_zr = tf.concat([d_az, d_ar], axis=-1)
            d_before = d_h * keep[t] + d_rh * r[t] + tf.einsum("fbj,fju->fbu", d_zr, recurrent_zr)
            return d_before, tf.concat([d_zr, d_ah], axis=-1)

        initial = (tf.zeros_like(hidden[0]), tf.zeros_like(x_parts[0]))
        d_x_parts = tf.scan(step, tf.range(hidden.shape[0]), initializer=initial, reverse=True)[1]
        d_recurrent = tf.concat([tf.einsum("tfbu,tfbj->fuj", before, d_x_parts[..., : 2 * units]),
                                 tf.einsum("tfbu,tfbj->fuj", r * before, d_x_parts[..., 2 * units :])], axis=-1)
        d_kernel = tf.einsum("tfbi,tfbj->fij", inputs, d_x_parts)
        return None, None, d_kernel, tf.reduce_sum(d_x_parts, axis=[0, 2]), d_recurrent

    return hidden, reverse_pass


def hidden_states(weights: Weights, inputs, answered):
    """The state each trial's choices are predicted from [T, F, B, units]: one GRU step per answered
    trial (reading inputs [F, B, T, 7]), the state unchanged through missed ones."""
    inputs, answered = tf.transpose(inputs, [2, 0, 1, 3]), tf.transpose(answered, [2, 0, 1])
    return recurrence(inputs, answered, weights.kernel, weights.bias, weights.recurrent)


def choice_log_probs(weights: Weights, batch):
    """log p of the recorded stage-1 and stage-2 choices [F, B, T, 2], 0 at missed trials."""
    hidden = hidden_states(weights, batch["inputs"], batch["answered"])
    logits = tf.einsum("tfbu,fuk->fbtk", hidden, weights.readout) + weights.readout_bias[:, None, None]
    stage2 = tf.where(batch["state"] == S2, logits[..., 1], logits[..., 2])
    logit = tf.stack([logits[..., 0], stage2], axis=-1)  # log-odds of option 1
    sign = tf.cast(2 * tf.stack([batch["action"], batch["choice2"]], axis=-1) - 1, logit.dtype)
    return tf.where(batch["answered"][..., None], -tf.nn.softplus(-sign * logit), 0.0)  # log sig(sign * logit)


def masked_nll(log_p, mask):
    """Per network [F]: the sum of -(log p stage 1 + log p stage 2) over the trials of mask [F, B, T]."""
    return -tf.reduce_sum(tf.where(mask[..., None], log_p, 0.0), axis=[1, 2, 3])


def training_losses(weights: Weights, batch, l1_recurrent):
    """Per network [F]: NLL per training trial plus the L1 penalty on its recurrent weights."""
    n_train = tf.reduce_sum(tf.cast(batch["train"], tf.float32), axis=[1, 2])
    l1 = tf.reduce_sum(tf.abs(weights.recurrent), axis=[1, 2])
    return masked_nll(choice_log_probs(weights, batch), batch["train"]) / n_train + l1_recurrent * l1


def validation_nll(weights: Weights, batch):
    """Per network [F]: NLL per validation choice (two per trial)."""
    n_choices = 2.0 * tf.reduce_sum(tf.cast(batch["validation"], tf.float32), axis=[1, 2])
    return masked_nll(choice_log_probs(weights, batch), batch["validation"]) / n_choices


@tf.function(jit_compile=True)  # one trace per shape of its arguments, as the next
def compiled_log_probs(weights, batch):
    return choice_log_probs(weights, batch)


@tf.function(jit_compile=True)
def compiled_validation_nll(weights, batch):
    return validation_nll(weights, batch)


def log_probs(weights: Weights, data, members) -> np.ndarray:
    """log p [F, B, T, 2] of the recorded stage-1 and stage-2 choices of sequences members [F, B]
    under each network (`data` from `sequence_inputs`), 0 at missed trials."""
    members = check_members(members, data, len(weights.kernel))
    batch = as_tensors(gather_batch(data, members))
    return compiled_log_probs(as_tensors(weights), batch).numpy()


# ---------------------------------------------------------------- training


def adam_update(weights: Weights, adam: Adam, grads: Weights, learning_rate):
    """One Adam step (Kingma & Ba 2015) on every weight."""
    count = adam.count + 1.0
    step_size = learning_rate * tf.sqrt(1.0 - ADAM_BETA2**count) / (1.0 - ADAM_BETA1**count)
    mean = [ADAM_BETA1 * m + (1.0 - ADAM_BETA1) * g for m, g in zip(adam.mean, grads)]
    square = [ADAM_BETA2 * v + (1.0 - ADAM_BETA2) * tf.square(g) for v, g in zip(adam.square, grads)]
    new = [w - step_size * m / (tf.sqrt(v) + ADAM_EPSILON) for w, m, v in zip(weights, mean, square)]
    return Weights(*new), Adam(Weights(*mean), Weights(*square), count)


@functools.lru_cache(maxsize=None)
def make_train_block(learning_rate: float, steps: int, l1_recurrent: float):
    """The compiled block: `steps` full-batch Adam steps of every network, then each network's
    validation NLL per choice. tf.function keeps one trace per shape of its arguments."""

    @tf.function(jit_compile=True)
    def train_block(weights, adam, batch):
        def update(i, weights, adam):
            with tf.GradientTape() as tape:
                tape.watch(weights)
                loss = tf.reduce_sum(training_losses(weights, batch, l1_recurrent))  # networks' gradients stay apart
            weights, adam = adam_update(weights, adam, Weights(*tape.gradient(loss, weights)), learning_rate)
            return i + 1, weights, adam

        _, weights, adam = tf.while_loop(lambda i, *_: i < steps, update, (tf.constant(0), weights, adam))
        return weights, adam, validation_nll(weights, batch)

    return train_block


def as_tensors(structure):
    """Every array of a nested structure as a tensor (what the compiled functions take)."""
    return tf.nest.map_structure(tf.convert_to_tensor, structure)


def check_members(members, data, n_networks=None):
    """members as an int array [F, B] of indices into the N sequences of `data`."""
    members = np.asarray(members)
    n_sequences = len(data["inputs"])
    if members.ndim != 2 or not np.issubdtype(members.dtype, np.integer) or members.shape[1] == 0:
        raise ValueError(f"members has shape {members.shape} and dtype {members.dtype}: expected integers [networks, sequences]")
    if n_networks is not None and len(members) != n_networks:
        raise ValueError(f"members has {len(members)} rows: expected one per network, {n_networks}")
    if members.min() < 0 or members.max() >= n_sequences:
        raise ValueError(f"members holds {members.min()}..{members.max()}: expected indices into the {n_sequences} sequences")
    return members


def check_masks(members, data, **masks):
    """Each mask as bool [F, B, T], limited to answered trials; every network needs one trial in each."""
    shape = members.shape + data["answered"].shape[1:]
    answered = data["answered"][members]
    checked = {}
    for name, mask in masks.items():
        mask = np.asarray(mask)
        if mask.shape != shape or mask.dtype != bool:
            raise ValueError(f"{name} has shape {mask.shape} and dtype {mask.dtype}: expected bool {list(shape)} [networks, sequences, trials]")
        checked[name] = mask & answered
        empty = np.flatnonzero(~checked[name].any(axis=(1, 2)))
        if len(empty):
            raise ValueError(f"{name}: networks {empty.tolist()} have no answered trial in it: each network needs at least one")
    return checked


def fit(config: RNNConfig, data, members, train, validation, progress=False, initial: Weights = None):
    """Train F networks side by side, full batch, network f on the sequences members[f] [F, B],
    learning from the answered trials of train [F, B, T] and stopping on those of validation.

    Blocks of `config.steps_per_check` Adam steps run as one compiled call; after each (and before
    the first) every network's validation NLL per choice is compared with its best so far, whose
    weights it keeps; a network stops counting once it has gone `config.patience` steps without
    improving, and training ends when all have, or at `config.max_steps`. `initial` weights default
    to `init_weights(config, F)`.

    Returns (weights, info): each network's best weights (numpy), and info with "validation_nll" [F]
    (the best), "best_step" [F] (the step it was reached at) and "steps" (steps run).
    """
    from twostep.progress import progress_bar

    members = check_members(members, data)
    masks = check_masks(members, data, train=train, validation=validation)
    n_networks = len(members)
    weights = init_weights(config, n_networks) if initial is None else Weights(*(np.asarray(w, np.float32) for w in initial))
    for name, w, shape in zip(Weights._fields, weights, weight_shapes(config.units)):
        if w.shape != (n_networks, *shape):
            raise ValueError(f"initial.{name} has shape {w.shape}: expected {(n_networks, *shape)} ({n_networks} networks of {config.units} units)")
    batch = as_tensors({**gather_batch(data, members), **masks})
    train_block = make_train_block(float(config.learning_rate), config.steps_per_check, float(config.l1_recurrent))
    best = weights
    best_nll = compiled_validation_nll(as_tensors(weights), batch).numpy()
    best_step, done = np.zeros(n_networks, int), np.zeros(n_networks, bool)
    zeros = Weights(*(np.zeros_like(w) for w in weights))
    weights, adam = as_tensors(weights), as_tensors(Adam(zeros, zeros, np.float32(0.0)))
    step = 0
    with progress_bar(config.max_steps, unit="step", desc="networks", enabled=progress) as bar:
        while step < config.max_steps and not done.all():
            weights, adam, nll = train_block(weights, adam, batch)
            step += config.steps_per_check
            nll = nll.numpy()
            improved = ~done & (nll < best_nll)
            best = Weights(*(np.where(improved.reshape((-1,) + (1,) * (b.ndim - 1)), w.numpy(), b) for w, b in zip(weights, best)))
            best_nll, best_step = np.where(improved, nll, best_nll), np.where(improved, step, best_step)
            done |= step - best_step >= config.patience
            bar.update(config.steps_per_check)
            bar.set_postfix(validation_nll=f"{best_nll.mean():.4f}", counting=int((~done).sum()))
    return best, {"validation_nll": best_nll, "best_step": best_step, "steps": step}
