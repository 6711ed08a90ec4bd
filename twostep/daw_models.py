"""Daw et al. 2011's family of learners for the original two-step task, as named specifications,
with a batched likelihood, simulation and MAP fits.

The task (Daw, Gershman, Seymour, Dayan & Dolan 2011, Neuron 69:1204): two first-stage actions,
action 0 leads commonly (p 0.7) to S2 and action 1 to S3; each second-stage state offers two
options whose reward probabilities drift. One set of equations covers the published variants:

- second-stage values Q2(s, c) and model-free first-stage values Q1(a) learn by SARSA(lambda):
  Q1(a) += alpha1 (delta1 + lambda delta2), Q2(s, c) += alpha2 delta2, with
  delta1 = Q2(s, c) - Q1(a) and delta2 = r - Q2(s, c);
- model-based values Q_MB(a) = sum_s P(s | a) max_c Q2(s, c), with P either fixed (0.7/0.3) or,
  as Kool et al. 2016, whichever mapping the transitions seen so far favour (0.5/0.5 on a tie);
- first-stage choice: softmax of beta_MB Q_MB + beta_MF Q1 + kappa (p M + rho R), where M marks
  the previous choice and R the action now on the screen side of the previous choice (response
  stickiness); beta_MB = w beta1, beta_MF = (1 - w) beta1 and kappa = beta1 when a spec has a
  mixing weight w (Daw 2011, Kool 2016), separate beta_MB, beta_MF and kappa = 1 when it has
  not (Nussenbaum et al. 2020); second-stage choice: softmax of beta2 Q2(s, .).

Specs: `DAW2011` (seven parameters, and its w = 0 and w = 1 variants), `KOOL2016` (the 12 models
of Kool, Cushman & Gershman 2016, PLoS Comput Biol 12:e1005090, in the order of their
results.mat) and `NUSSENBAUM2020` (Decker et al. 2016's model as refitted by Nussenbaum et al.
2020, Collabra 6:17213). `SPECS` holds them all by name.

Records are plain numpy arrays [subject, episode, trial] (the meta-RL agent's, a simulated
agent's or a person's): "action" (0/1, -1 missed), "state" (S2 = 1, S3 = 2), "choice2" (0/1),
"reward" (0/1, nan when missed), "missed", "side1" (screen side of the chosen first-stage
option, 0 left, 1 right). Every episode starts with fresh values. `play` runs the equations
either replaying records (`log_likelihood`) or choosing (`simulate`); `fit` finds MAP (or ML)
parameters for every subject at once with a batched projected Newton method.
"""

import dataclasses

import numpy as np
from scipy.special import betaln, expit, gammaln

S2, S3 = 1, 2  # the second-stage state codes of two_step_env
NAMES = ("alpha", "alpha1", "alpha2", "lambda", "beta", "beta1", "beta2", "beta_mb", "beta_mf", "w", "p", "rho")
TEMPERATURES = ({"beta", "w"}, {"beta1", "beta2", "w"}, {"beta_mb", "beta_mf", "beta2"})
LEARNING_RATES = ({"alpha"}, {"alpha1", "alpha2"})


@dataclasses.dataclass(frozen=True)
class Parameter:
    """A free parameter: bounds, prior ("flat",), ("gamma", shape, scale), ("normal", mean, sd)
    or ("beta", a, b), and the range random restarts draw their starting points from."""

    name: str
    lower: float
    upper: float
    prior: tuple = ("flat",)
    init: tuple = None  # (low, high); None: the bounds

    def log_prior(self, x):
        kind, *args = self.prior
        with np.errstate(divide="ignore", invalid="ignore"):
            if kind == "flat":  # mfit's @(x) 0
                return np.zeros_like(x)
            if kind == "gamma":
                shape, scale = args
                return np.where(x > 0, (shape - 1) * np.log(x) - x / scale - gammaln(shape) - shape * np.log(scale), -np.inf)
            if kind == "normal":
                mean, sd = args
                return -0.5 * ((x - mean) / sd) ** 2 - np.log(sd) - 0.5 * np.log(2 * np.pi)
            if kind == "beta":
                a, b = args
                inside = (x > 0) & (x < 1)
                return np.where(inside, (a - 1) * np.log(x) + (b - 1) * np.log1p(-x) - betaln(a, b), -np.inf)
        raise ValueError(f"{self.name}: unknown prior {self.prior!r}")


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """One member of the family: which parameters are free (in their order in a parameter
    vector) and which fixed, how transitions are believed, and where the fit starts.

    The names say the structure: learning rates "alpha" (one) or "alpha1", "alpha2"; inverse
    temperatures "beta" (both stages) or "beta1", "beta2", each with the mixing weight "w", or
    "beta_mb", "beta_mf", "beta2"; "lambda"; choice stickiness "p" and response stickiness "rho"
    (off when absent).
    """

    name: str
    free: tuple  # Parameter, ...
    fixed: tuple = ()  # (name, value), ...
    transitions: str = "fixed"  # "fixed": common_prob; "counts": the mapping seen more often so far (Kool 2016)
    common_prob: float = 0.7
    first_trial: int = 0  # trials before it are not fitted; the last recorded choice among them is the previous choice (Decker 2016)
    q_init: float = 0.0

    def __post_init__(self):
        names = [p.name for p in self.free] + [name for name, _ in self.fixed]
        given = set(names)
        if len(names) != len(given) or not given <= set(NAMES):
            raise ValueError(f"{self.name}: parameter names {names} repeat or are not among {NAMES}")
        if sum(s <= given for s in TEMPERATURES) != 1 or sum(s <= given for s in LEARNING_RATES) != 1 or "lambda" not in given:
            raise ValueError(f"{self.name}: parameters {sorted(given)} need lambda, one of {TEMPERATURES} and one of {LEARNING_RATES}")
        if self.transitions not in ("fixed", "counts"):
            raise ValueError(f"{self.name}: transitions={self.transitions!r}: expected 'fixed' or 'counts'")

    @property
    def names(self):
        return tuple(p.name for p in self.free)

    @property
    def lower(self):
        return np.array([p.lower for p in self.free])

    @property
    def upper(self):
        return np.array([p.upper for p in self.free])

    @property
    def uses_sides(self):
        return "rho" in self.names or dict(self.fixed).get("rho", 0.0) != 0.0


def log_prior(spec: ModelSpec, theta):
    """Sum of the free parameters' log prior densities: theta [..., n_free] -> [...]."""
    return sum(p.log_prior(theta[..., i]) for i, p in enumerate(spec.free))


# ---------------------------------------------------------------- the named specifications

UNIT = (0.0, 1.0)
DAW2011_FREE = tuple(Parameter(n, *UNIT) for n in ("alpha1", "alpha2", "lambda")) + (
    Parameter("beta1", 0.0, 20.0, init=(0.5, 10.0)),
    Parameter("beta2", 0.0, 20.0, init=(0.5, 10.0)),
    Parameter("p", -20.0, 20.0, init=(-1.0, 1.0)),
    Parameter("w", *UNIT),
)
DAW2011 = ModelSpec("daw2011", DAW2011_FREE)
DAW2011_MF = ModelSpec("daw2011-mf", DAW2011_FREE[:-1], (("w", 0.0),))
DAW2011_MB = ModelSpec("daw2011-mb", tuple(p for p in DAW2011_FREE[:-1] if p.name not in ("alpha1", "lambda")), (("w", 1.0), ("alpha1", 0.0), ("lambda", 0.0)))


def kool2016(model, st, respst):
    """Kool et al. 2016's model (1 hybrid, 2 model-based w = 1, 3 model-free w = 0) with or
    without choice (st) and response (respst) stickiness: set_opts.m's parameters, bounds and
    priors, MB_MF_daw_rllik.m's equations (one beta, one learning rate, transitions by counts)."""
    stickiness = ("normal", 0.15, 1.42)
    candidates = (
        Parameter("beta", 0.0, 20.0, ("gamma", 4.82, 0.88), init=(0.5, 10.0)),
        Parameter("alpha", *UNIT),
        Parameter("lambda", *UNIT),
        Parameter("w", *UNIT),
        Parameter("p", -20.0, 20.0, stickiness, init=(-1.0, 1.0)),
        Parameter("rho", -20.0, 20.0, stickiness, init=(-1.0, 1.0)),
    )
    keep = {"w": model == 1, "p": st, "rho": respst}
    fixed = {"w": {1: (), 2: (("w", 1.0),), 3: (("w", 0.0),)}[model]}
    free = tuple(p for p in candidates if keep.get(p.name, True))
    name = f"kool2016-{('hybrid', 'mb', 'mf')[model - 1]}" + ("-st" if st else "") + ("-respst" if respst else "")
    return ModelSpec(name, free, fixed["w"], transitions="counts")


# results.mat's order: the model varies fastest, then st, then respst (mfit's factorial_models)
KOOL2016 = tuple(kool2016(model, st, respst) for respst in (0, 1) for st in (0, 1) for model in (1, 2, 3))

NUSSENBAUM2020 = ModelSpec(
    "nussenbaum2020",
    (
        Parameter("alpha", 1e-6, 1.0, ("beta", 1.1, 1.1)),
        Parameter("beta_mb", 1e-6, 30.0, ("gamma", 3.0, 1.0), init=(0.5, 10.0)),
        Parameter("beta_mf", 1e-6, 30.0, ("gamma", 3.0, 1.0), init=(0.5, 10.0)),
        Parameter("beta2", 1e-6, 30.0, ("gamma", 3.0, 1.0), init=(0.5, 10.0)),
        Parameter("lambda", 1e-6, 1.0, ("beta", 1.1, 1.1)),
        Parameter("p", -30.0, 30.0, ("normal", 0.0, 10.0), init=(-1.0, 1.0)),
    ),
    first_trial=9,  # mbmf_driver.m fits from trial 10 on (1-based)
)

SPECS = {s.name: s for s in (DAW2011, DAW2011_MF, DAW2011_MB, *KOOL2016, NUSSENBAUM2020)}


# ---------------------------------------------------------------- the equations


def expand(spec: ModelSpec, theta):
    """Parameter vectors theta [..., n_free] -> the family's quantities, each [...] (or scalar)."""
    v = dict(spec.fixed) | {name: theta[..., i] for i, name in enumerate(spec.names)}
    alpha1, alpha2 = (v["alpha1"], v["alpha2"]) if "alpha1" in v else (v["alpha"], v["alpha"])
    if "beta_mb" in v:
        beta_mb, beta_mf, beta2, kappa = v["beta_mb"], v["beta_mf"], v["beta2"], 1.0
    else:
        beta1, beta2 = (v["beta1"], v["beta2"]) if "beta1" in v else (v["beta"], v["beta"])
        beta_mb, beta_mf, kappa = v["w"] * beta1, (1 - v["w"]) * beta1, beta1
    p, rho = kappa * v.get("p", 0.0), kappa * v.get("rho", 0.0)
    return dict(alpha1=alpha1, alpha2=alpha2, lam=v["lambda"], beta_mb=beta_mb, beta_mf=beta_mf, beta2=beta2, p=p, rho=rho)


def believed_common(spec: ModelSpec, common_minus_rare):
    """P(S2 | action 0) as the learner believes it, from (#common - #rare) transitions seen."""
    if spec.transitions == "fixed":
        return spec.common_prob
    return np.where(common_minus_rare > 0, spec.common_prob, np.where(common_minus_rare < 0, 1 - spec.common_prob, 0.5))


def log_choice(logit, choice):
    """log P(choice) of a two-way softmax whose logit of option 1 over option 0 is `logit`."""
    return -np.logaddexp(0.0, np.where(choice == 1, -logit, logit))


def play(spec: ModelSpec, theta, layout, respond):
    """Run the equations over the trials of many sessions at once.

    theta [P, K, n_free]: K parameter vectors for each of P subjects. layout [P, E, T]: the
    screen side (0 left, 1 right) of first-stage action 1 on each trial of each episode.
    At trial t, `respond(t, logit1, logit2)` gets the first-stage logit of action 1 over 0
    [P, K, E] and the second-stage logits of option 1 over 0 in S2 and S3 [P, K, E, 2], and
    returns the trial's (action, state, choice2, reward, used), each broadcasting to [P, K, E]:
    drawn (simulation) or recorded (likelihood); unused trials leave everything unchanged,
    except that before spec.first_trial a recorded action still sets the previous choice.
    Returns the log-probability of the responses [P, K, E, T], 0 at unused trials.
    """
    q = expand(spec, np.asarray(theta, np.float64)[:, :, None, :])
    n_people, n_vectors = np.shape(theta)[:2]
    shape = (n_people, n_vectors, layout.shape[1])
    q1 = np.full(shape + (2,), spec.q_init)  # model-free values of actions 0, 1
    q2 = np.full(shape + (2, 2), spec.q_init)  # [S2, S3] x [option 0, option 1]
    previous_action = previous_side = np.full(shape[:1] + (1,) + shape[2:], -1)
    common_minus_rare = np.zeros(previous_action.shape)
    two = np.arange(2)
    out = np.zeros(shape + (layout.shape[2],))
    for t in range(layout.shape[2]):
        best = q2.max(axis=-1)
        model_based = (2 * believed_common(spec, common_minus_rare) - 1) * (best[..., 1] - best[..., 0])
        repeat = np.where(previous_action < 0, 0.0, 2.0 * previous_action - 1)
        same_side = np.where(previous_side < 0, 0.0, np.where(layout[:, None, :, t] == previous_side, 1.0, -1.0))
        logit1 = q["beta_mb"] * model_based + q["beta_mf"] * (q1[..., 1] - q1[..., 0]) + q["p"] * repeat + q["rho"] * same_side
        logit2 = np.asarray(q["beta2"])[..., None] * (q2[..., 1] - q2[..., 0])
        action, state, choice2, reward, used = respond(t, logit1, logit2)
        at_s3 = state == S3
        out[..., t] = np.where(used, log_choice(logit1, action) + log_choice(np.where(at_s3, logit2[..., 1], logit2[..., 0]), choice2), 0.0)
        chosen = (state[..., None, None] - S2 == two[:, None]) & (choice2[..., None, None] == two)
        took = action[..., None] == two
        reached = (q2 * chosen).sum(axis=(-2, -1))
        outcome_error = np.where(used, reward, 0.0) - reached
        q1 = q1 + took * np.where(used, q["alpha1"] * (reached - (q1 * took).sum(-1) + q["lam"] * outcome_error), 0.0)[..., None]
        q2 = q2 + chosen * np.where(used, q["alpha2"] * outcome_error, 0.0)[..., None, None]
        common_minus_rare = common_minus_rare + np.where(used, np.where((action == 0) == (state == S2), 1, -1), 0)
        seen = used | ((t < spec.first_trial) & (action >= 0))
        previous_action = np.where(seen, action, previous_action)
        previous_side = np.where(seen, np.where(action == 1, layout[:, None, :, t], 1 - layout[:, None, :, t]), previous_side)
    return out


# ---------------------------------------------------------------- the likelihood of records


def _first_bad(records, key, bad):
    where = tuple(int(i) for i in np.argwhere(bad)[0])
    raise ValueError(f"records[{key!r}] is {records[key][where]!r} at [subject, episode, trial] = {list(where)}, a trial not marked missed")


def replay_inputs(spec: ModelSpec, records):
    """Checked arrays [P, E, T] that `log_likelihood` replays: action, state, choice2, reward,
    used (not missed and at or after spec.first_trial) and layout (side of action 1)."""
    action, state, choice2, missed = (np.asarray(records[k]) for k in ("action", "state", "choice2", "missed"))
    reward = np.asarray(records["reward"], np.float64)
    if action.ndim != 3:
        raise ValueError(f"records must be [subject, episode, trial] arrays; 'action' has shape {action.shape}")
    missed = missed.astype(bool)
    checks = [("action", ~np.isin(action, (0, 1))), ("state", ~np.isin(state, (S2, S3))), ("choice2", ~np.isin(choice2, (0, 1))), ("reward", ~np.isfinite(reward))]
    side = np.zeros_like(action)
    if spec.uses_sides:
        side = np.asarray(records["side1"])
        checks.append(("side1", ~np.isin(side, (0, 1))))
    for key, bad in checks:
        if (bad & ~missed).any():
            _first_bad(records, key, bad & ~missed)
    used = ~missed & (np.arange(action.shape[-1]) >= spec.first_trial)
    return dict(action=action, state=state, choice2=choice2, reward=reward, used=used, layout=np.where(action == 1, side, 1 - side))


def replay_log_likelihood(spec: ModelSpec, inputs, theta):
    """Log-likelihood [P, K] of `replay_inputs` at parameter vectors theta [P, K, n_free]."""
    recorded = {k: v[:, None] for k, v in inputs.items() if k != "layout"}
    columns = ("action", "state", "choice2", "reward", "used")
    return play(spec, theta, inputs["layout"], lambda t, *_: tuple(recorded[k][..., t] for k in columns)).sum(axis=(2, 3))


def log_likelihood(spec: ModelSpec, records, theta):
    """log P(first- and second-stage choices | parameters): records [P, E, T] arrays, theta
    [P, K, n_free] -> [P, K], summed over episodes and the trials each author fitted."""
    return replay_log_likelihood(spec, replay_inputs(spec, records), theta)


# ---------------------------------------------------------------- simulation


def simulate(spec: ModelSpec, theta, probs, rng: np.random.Generator, common_prob=0.7):
    """Play Daw's task: theta [subject, n_free], probs [subject, episode, trial, 4] (reward
    probabilities of S2 option 0, S2 option 1, S3 option 0, S3 option 1). Screen sides are drawn
    at random. Returns records [subject, episode, trial] with the keys `log_likelihood` reads plus
    "common", "probs", "side2", "rt1", "rt2" (nan) and "prob" (of the chosen first-stage action)."""
    probs = np.asarray(probs, np.float64)
    shape = probs.shape[:3]
    layout, layout2 = rng.integers(0, 2, (2,) + shape)
    keys = ("action", "state", "common", "choice2", "reward", "prob")
    trials = {k: np.zeros(shape, dtype) for k, dtype in zip(keys, (np.int64, np.int64, bool, np.int64, np.float64, np.float64))}

    def respond(t, logit1, logit2):
        u = rng.random((4,) + logit1.shape)
        action = (u[0] < expit(logit1)).astype(np.int64)
        common = u[1] < common_prob
        state = np.where((action == 0) == common, S2, S3)
        choice2 = (u[2] < expit(np.where(state == S3, logit2[..., 1], logit2[..., 0]))).astype(np.int64)
        pay = np.take_along_axis(probs[:, None, :, t], (2 * (state - S2) + choice2)[..., None], -1)[..., 0]
        reward = (u[3] < pay).astype(np.float64)
        for key, value in zip(keys, (action, state, common, choice2, reward, expit(np.where(action == 1, logit1, -logit1)))):
            trials[key][:, :, t] = value[:, 0]
        return action, state, choice2, reward, np.ones(action.shape, bool)

    play(spec, np.asarray(theta, np.float64)[:, None], layout, respond)
    trials.update(
        probs=probs,
        missed=np.zeros(shape, bool),
        side1=np.where(trials["action"] == 1, layout, 1 - layout),
        side2=np.where(trials["choice2"] == 1, layout2, 1 - layout2),
        rt1=np.full(shape, np.nan),
        rt2=np.full(shape, np.nan),
    )
    return trials


# ---------------------------------------------------------------- fitting


def stencil(n):
    """Offsets (in steps) of the central-difference points around a centre: +-e_i, then
    (+e_i +e_j, +e_i -e_j, -e_i +e_j, -e_i -e_j) for each pair i < j. [2n + 2n(n-1), n]."""
    eye = np.eye(n)
    pairs = [s * eye[i] + u * eye[j] for i in range(n) for j in range(i + 1, n) for s, u in ((1, 1), (1, -1), (-1, 1), (-1, -1))]
    return np.concatenate([eye, -eye, np.reshape(pairs, (-1, n))])


def derivatives(objective, rows, x, lower, upper, step=1e-4):
    """f, gradient and Hessian of objective at x [B, n], from one batched call.

    objective(rows, points [B, M, n]) -> [B, M]. Central differences around x moved inside the
    bounds by one step where it is closer to them (no point leaves the bounds); the gradient is
    carried back to x through the Hessian, so both are accurate to O(step^2).
    """
    n = x.shape[-1]
    centre = np.clip(x, lower + step, upper - step)
    f = objective(rows, np.concatenate([x[:, None], centre[:, None], centre[:, None] + step * stencil(n)], axis=1))
    f_x, f_c, plus, minus, pairs = f[:, 0], f[:, 1], f[:, 2 : 2 + n], f[:, 2 + n : 2 + 2 * n], f[:, 2 + 2 * n :]
    hessian = np.zeros(x.shape + (n,))
    i, j = np.triu_indices(n, 1)
    cross = (pairs[:, 0::4] - pairs[:, 1::4] - pairs[:, 2::4] + pairs[:, 3::4]) / (4 * step**2)
    hessian[:, i, j] = hessian[:, j, i] = cross
    hessian[:, np.arange(n), np.arange(n)] = (plus - 2 * f_c[:, None] + minus) / step**2
    gradient = (plus - minus) / (2 * step) + np.einsum("bij,bj->bi", hessian, x - centre)
    return f_x, gradient, hessian


def newton_direction(gradient, hessian, x, lower, upper):
    """Projected Newton direction (Bertsekas 1982) for a box: a coordinate at a bound whose
    gradient pushes outward stays there; the rest take a Newton step on the Hessian with its
    eigenvalues made positive (|lambda|, floored), capped to a quarter of the box per step."""
    blocked = ((x <= lower) & (gradient > 0)) | ((x >= upper) & (gradient < 0))
    free = ~blocked
    reduced = np.where(free[:, :, None] & free[:, None, :], hessian, np.eye(x.shape[-1]))
    values, vectors = np.linalg.eigh(reduced)
    values = np.maximum(np.abs(values), 1e-8 * np.maximum(1.0, np.abs(values).max(-1, keepdims=True)))
    g = np.where(free, gradient, 0.0)
    direction = -np.einsum("bij,bj->bi", vectors, np.einsum("bji,bj->bi", vectors, g) / values)
    scale = np.abs(direction).max(-1, keepdims=True) / (0.25 * (upper - lower)).min()
    return direction / np.maximum(1.0, scale)


def minimize_box(objective, x0, lower, upper, iterations=100, tolerance=1e-9, steps=12):
    """Minimise objective(rows, points [B, M, n]) -> [B, M] within [lower, upper] from the rows
    of x0 [B, n], all rows in lock-step: projected Newton steps with finite-difference
    derivatives and a backtracking line search (step sizes 1, 1/2, ... tried in one call).
    A row stops when no step size improves it by the Armijo rule or the gain is < tolerance.
    Returns (x [B, n], f [B], iterations used per row [B])."""
    x = np.clip(np.array(x0, np.float64), lower, upper)
    f = np.full(len(x), np.inf)
    used = np.zeros(len(x), int)
    rows = np.arange(len(x))
    fractions = 0.5 ** np.arange(steps)
    for _ in range(iterations):
        f0, gradient, hessian = derivatives(objective, rows, x[rows], lower, upper)
        direction = newton_direction(gradient, hessian, x[rows], lower, upper)
        trial = np.clip(x[rows, None] + fractions[:, None] * direction[:, None], lower, upper)
        f_trial = objective(rows, trial)
        armijo = f_trial <= f0[:, None] + 1e-4 * np.einsum("bmn,bn->bm", trial - x[rows, None], gradient)
        first = armijo.argmax(axis=1)
        moved = armijo.any(axis=1)
        f_new = np.where(moved, f_trial[np.arange(len(rows)), first], f0)
        x[rows[moved]] = trial[moved, first[moved]]
        f[rows], used[rows] = f_new, used[rows] + 1
        rows = rows[moved & (f0 - f_new >= tolerance)]
        if not len(rows):
            break
    return x, f, used


def restart_points(spec: ModelSpec, n_people, restarts, rng: np.random.Generator):
    """Starting points [P, restarts, n_free]: the middle of each parameter's init range, then
    uniform draws in it."""
    low, high = np.array([p.init or (p.lower, p.upper) for p in spec.free]).T
    points = rng.uniform(low, high, (n_people, restarts, len(low)))
    points[:, 0] = (low + high) / 2
    return points


def laplace_log_evidence(logpost, hessian, bic):
    """mfit's log model evidence: logpost + K/2 log 2 pi - 1/2 log det H (H the Hessian of -log
    posterior at the MAP), or -(bic - K log 2 pi) / 2 where H is degenerate (mfit_bms)."""
    k = hessian.shape[-1]
    sign, log_det = np.linalg.slogdet(hessian)
    laplace = logpost + 0.5 * (k * np.log(2 * np.pi) - log_det)
    return np.where(sign > 0, laplace, -0.5 * (bic - k * np.log(2 * np.pi)))


def fit(spec: ModelSpec, records, restarts=8, seed=0, prior=True, iterations=100):
    """MAP (prior=True; ML otherwise) fits of every subject of records [P, E, T] at once.

    Each subject's `restarts` starting points (`restart_points`) run in lock-step through
    `minimize_box`; the best is kept. Returns arrays over subjects: "params" [P, n_free] (in
    spec.names order), "loglik", "logpost", "bic" (K log N - 2 loglik with N every trial
    recorded, missed ones too, as mfit), "log_evidence" (`laplace_log_evidence`), "hessian"
    [P, n, n] of -logpost (-loglik for ML) at the optimum, "objective" [P, restarts] (the
    minimised -logpost of each restart) and "iterations" [P, restarts].
    """
    inputs = replay_inputs(spec, records)
    n_people, n = len(inputs["action"]), len(spec.free)

    def objective(rows, points):
        people = rows // restarts
        loglik = replay_log_likelihood(spec, {k: v[people] for k, v in inputs.items()}, points)
        return -(loglik + log_prior(spec, points)) if prior else -loglik

    starts = restart_points(spec, n_people, restarts, np.random.default_rng(seed)).reshape(-1, n)
    x, f, used = minimize_box(objective, starts, spec.lower, spec.upper, iterations)
    f, x = f.reshape(n_people, restarts), x.reshape(n_people, restarts, n)
    best = x[np.arange(n_people), f.argmin(axis=1)]
    people = np.arange(n_people)
    minimum, _, hessian = derivatives(lambda rows, p: objective(rows * restarts, p), people, best, spec.lower, spec.upper)
    loglik = log_likelihood(spec, records, best[:, None])[:, 0]
    logpost = loglik + log_prior(spec, best)
    n_trials = inputs["action"].shape[1] * inputs["action"].shape[2]
    bic = n * np.log(n_trials) - 2 * loglik
    return dict(params=best, loglik=loglik, logpost=logpost, bic=bic, log_evidence=laplace_log_evidence(logpost if prior else loglik, hessian, bic),
                hessian=hessian, objective=f, iterations=used.reshape(n_people, restarts))
