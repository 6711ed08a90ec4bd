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
results.mat), `NUSSENBAUM2020` (Decker et al. 2016's model as refitted by Nussenbaum et al.
2020, Collabra 6:17213), hBayesDM's `HBAYESDM`, and for Kool et al.'s own tasks `KOOL2016_NOVEL`
(the 12 models on their novel paradigm: two first-stage states, each option leading to one
second-stage state, one option there) and `KOOL2017` (w_lo and w_hi, the mixing weight at low and
high stakes, in the novel paradigm and Daw's). `SPECS` holds them all by name.

Records are plain numpy arrays [subject, episode, trial] (the meta-RL agent's, a simulated
agent's or a person's): "action" (0/1, -1 missed), "state" (S2 = 1, S3 = 2), "choice2" (0/1),
"reward" (0/1, nan when missed), "missed", "side1" (screen side of the chosen first-stage
option, 0 left, 1 right). Every episode starts with fresh values. `play` runs the equations
either replaying records (`log_likelihood`) or choosing (`simulate`); `fit` finds MAP (or ML)
parameters for every subject at once with a batched projected Newton method
(`box_newton.minimize_box`), from random restarts and, through `embed`, from the fits of nested
models, and each fit's model evidence (`log_evidence`: Laplace's approximation where it holds).
"""

import dataclasses
import hashlib
import warnings

import numpy as np
from scipy.special import betaln, erfcx, expit, gammaln

from twostep import box_newton
from twostep.configs import S2, S3, option_index
NAMES = ("alpha", "alpha1", "alpha2", "lambda", "beta", "beta1", "beta2", "beta_mb", "beta_mf", "w", "w_lo", "w_hi", "p", "rho")
TEMPERATURES = ({"beta", "w"}, {"beta1", "beta2", "w"}, {"beta_mb", "beta_mf", "beta2"}, {"beta", "w_lo", "w_hi"})
PARADIGMS = ("daw", "novel")  # Daw et al. 2011's task; Kool et al. 2016's (two first-stage states, one option at the second)
HIGH_STAKE = 1  # a stake above this is high: w_hi weighs that trial's choice (Kool et al. 2017; their stakes are 1 and 5)
LEARNING_RATES = ({"alpha"}, {"alpha1", "alpha2"})
OTHERS = {"lambda", "p", "rho"}  # lambda always; the stickiness terms are off when absent


@dataclasses.dataclass(frozen=True)
class Parameter:
    """A free parameter: bounds, prior ("flat",) (uniform on the bounds), ("gamma", shape, scale),
    ("normal", mean, sd), ("beta", a, b) or ("logit-normal", mean, sd) (an empirical prior:
    `unbounded` z ~ N(mean, sd); its log_prior is z's density, so that the MAP and the log
    posterior are z's, as in Huys et al.'s emfit, and `person_log_evidence` adds log dz/dx), and
    the range random restarts draw their starting points from."""

    name: str
    lower: float
    upper: float
    prior: tuple = ("flat",)
    init: tuple = None  # (low, high); None: the bounds
    link: str = "probit"  # a hierarchical fit's map from the real line: "probit" onto the bounds, "exp" above lower, "identity"

    def log_prior(self, x):
        kind, *args = self.prior
        with np.errstate(divide="ignore", invalid="ignore"):
            if kind == "flat":  # the uniform density: mfit's @(x) 0 on [0, 1], -log 20 on [0, 20]
                return np.full_like(np.asarray(x, np.float64), -np.log(self.upper - self.lower))
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
            if kind == "logit-normal":  # the density of z = unbounded(x) ~ N(mean, sd): MAP and logpost in z
                mean, sd = args
                z, inside = self.unbounded(x), (x > self.lower) & (x < self.upper)
                return np.where(inside, -0.5 * ((z - mean) / sd) ** 2 - np.log(sd) - 0.5 * np.log(2 * np.pi), -np.inf)
        raise ValueError(f"{self.name}: unknown prior {self.prior!r}")

    def unbounded(self, x):
        """x in (lower, upper) as z = log((x - lower) / (upper - x)) on the real line."""
        return np.log(x - self.lower) - np.log(self.upper - x)

    def unbounded_slope(self, x):
        """dz/dx of `unbounded`."""
        return (self.upper - self.lower) / ((x - self.lower) * (self.upper - x))


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
    transitions: str = "fixed"  # "fixed": common_prob; "counts": the mapping seen more often so far (Kool 2016); "seen": known once its state was visited
    paradigm: str = "daw"  # `PARADIGMS`
    common_prob: float = 0.7
    first_trial: int = (
        0  # trials before it are not fitted; the last recorded choice among them is the previous choice (Decker 2016)
    )
    q_init: float = 0.0
    trace: str = "before"  # the eligibility trace's r - Q2: "before" Q2's update (Daw 2011) or "after" it (hBayesDM)
    stickiness_times_beta: bool = True  # with a mixing weight w, p and rho are in units of beta1 (Daw 2011); False: raw (hBayesDM)

    def __post_init__(self):
        names = [p.name for p in self.free] + [name for name, _ in self.fixed]
        given = set(names)
        if len(names) != len(given) or not given <= set(NAMES):
            raise ValueError(f"{self.name}: parameter names {names} repeat or are not among {NAMES}")
        temperatures, rates = given & set().union(*TEMPERATURES), given & set().union(*LEARNING_RATES)
        if temperatures not in TEMPERATURES or rates not in LEARNING_RATES or "lambda" not in given or given - temperatures - rates - OTHERS:
            raise ValueError(
                f"{self.name}: parameters {sorted(given)} need lambda, exactly one set of temperatures of "
                f"{[sorted(s) for s in TEMPERATURES]}, exactly one set of learning rates of {[sorted(s) for s in LEARNING_RATES]}, "
                f"and besides them only {sorted(OTHERS - {'lambda'})}"
            )
        if self.transitions not in ("fixed", "counts", "seen"):
            raise ValueError(f"{self.name}: transitions={self.transitions!r}: expected 'fixed', 'counts' or 'seen'")
        if self.paradigm not in PARADIGMS:
            raise ValueError(f"{self.name}: paradigm={self.paradigm!r}: expected one of {PARADIGMS}")
        novel = self.paradigm == "novel"
        if (novel and (self.common_prob != 1.0 or self.transitions == "counts")) or (not novel and self.transitions == "seen"):
            raise ValueError(f"{self.name}: paradigm={self.paradigm!r}, transitions={self.transitions!r}, common_prob={self.common_prob}: "
                             "the novel paradigm's transitions are deterministic (common_prob 1), 'fixed' or 'seen'; 'seen' is its alone")
        if self.trace not in ("before", "after"):
            raise ValueError(f"{self.name}: trace={self.trace!r}: expected 'before' or 'after'")
        links = {p.name: p.link for p in self.free if p.link not in ("probit", "exp", "identity")}
        if links:
            raise ValueError(f"{self.name}: links {links}: expected 'probit', 'exp' or 'identity'")

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
    def has_stakes(self):
        """Whether the mixing weight depends on the trial's stake (w_lo, w_hi: Kool et al. 2017)."""
        return "w_lo" in self.names or "w_lo" in dict(self.fixed)

    @property
    def uses_sides(self):
        return "rho" in self.names or dict(self.fixed).get("rho", 0.0) != 0.0


def log_prior(spec: ModelSpec, theta):
    """Sum of the free parameters' log prior densities: theta [..., n_free] -> [...]."""
    return sum(p.log_prior(theta[..., i]) for i, p in enumerate(spec.free))


# ---------------------------------------------------------------- the named specifications

UNIT = (0.0, 1.0)
DAW2011_FREE = tuple(Parameter(n, *UNIT) for n in ("alpha1", "alpha2", "lambda")) + (
    Parameter("beta1", 0.0, 20.0, init=(0.5, 10.0), link="exp"),
    Parameter("beta2", 0.0, 20.0, init=(0.5, 10.0), link="exp"),
    Parameter("p", -20.0, 20.0, init=(-1.0, 1.0), link="identity"),
    Parameter("w", *UNIT),
)
DAW2011 = ModelSpec("daw2011", DAW2011_FREE)  # uniform priors within the bounds: MAP = maximum likelihood
DAW2011_MF = ModelSpec("daw2011-mf", DAW2011_FREE[:-1], (("w", 0.0),))
DAW2011_MB = ModelSpec(  # alpha1 and lambda only shape the model-free values, which w = 1 ignores
    "daw2011-mb",
    tuple(p for p in DAW2011_FREE[:-1] if p.name not in ("alpha1", "lambda")),
    (("w", 1.0), ("alpha1", 0.0), ("lambda", 0.0)),
)


KOOL_STICKINESS = ("normal", 0.15, 1.42)  # set_opts.m's prior of both stickiness parameters
KOOL_BETA = Parameter("beta", 0.0, 20.0, ("gamma", 4.82, 0.88), init=(0.5, 10.0), link="exp")
KOOL_CANDIDATES = (
    KOOL_BETA,
    Parameter("alpha", *UNIT),
    Parameter("lambda", *UNIT),
    Parameter("w", *UNIT),
    Parameter("p", -20.0, 20.0, KOOL_STICKINESS, init=(-1.0, 1.0), link="identity"),
    Parameter("rho", -20.0, 20.0, KOOL_STICKINESS, init=(-1.0, 1.0), link="identity"),
)


def kool2016(model, st, respst, paradigm="daw"):
    """Kool et al. 2016's model (1 hybrid, 2 model-based w = 1, 3 model-free w = 0) with or
    without choice (st) and response (respst) stickiness: set_opts.m's parameters, bounds and
    priors; on Daw's paradigm MB_MF_daw_rllik.m's equations (one beta, one learning rate,
    transitions by counts), on the novel one MB_MF_novel_rllik.m's (values per first-stage state,
    each state's transitions 0.5 / 0.5 until its first visit, then known)."""
    keep = {"w": model == 1, "p": st, "rho": respst}
    free = tuple(p for p in KOOL_CANDIDATES if keep.get(p.name, True))
    fixed = {1: (), 2: (("w", 1.0),), 3: (("w", 0.0),)}[model]
    name = f"kool2016-{'novel-' * (paradigm == 'novel')}{('hybrid', 'mb', 'mf')[model - 1]}" + ("-st" if st else "") + ("-respst" if respst else "")
    if paradigm == "novel":
        return ModelSpec(name, free, fixed, transitions="seen", common_prob=1.0, paradigm="novel")
    return ModelSpec(name, free, fixed, transitions="counts")


# results.mat's order: the model varies fastest, then st, then respst (mfit's factorial_models)
KOOL2016 = tuple(kool2016(model, st, respst) for respst in (0, 1) for st in (0, 1) for model in (1, 2, 3))
KOOL2016_NOVEL = tuple(kool2016(model, st, respst, "novel") for respst in (0, 1) for st in (0, 1) for model in (1, 2, 3))


def kool2017(paradigm):
    """Kool, Gershman & Cushman 2017's model of either paradigm with stakes (standard/MB_MF_rllik.m,
    set_params.m): beta, alpha, lambda, w_lo and w_hi (the mixing weight at stake 1 and at stake 5),
    choice and response stickiness, with Kool et al. 2016's priors; values of raw points (or wins),
    starting at 4.5 in the novel paradigm (points in [0, 9]) and 0.5 in Daw's, transitions known
    from the start (0.7 / 0.3 in Daw's)."""
    free = (KOOL_BETA, *KOOL_CANDIDATES[1:3], Parameter("w_lo", *UNIT), Parameter("w_hi", *UNIT), *KOOL_CANDIDATES[4:])
    if paradigm == "novel":
        return ModelSpec("kool2017-novel-stakes", free, common_prob=1.0, paradigm="novel", q_init=4.5)
    return ModelSpec("kool2017-daw-stakes", free, q_init=0.5)


KOOL2017 = (kool2017("novel"), kool2017("daw"))

NUSSENBAUM2020 = ModelSpec(
    "nussenbaum2020",
    (
        Parameter("alpha", 1e-6, 1.0, ("beta", 1.1, 1.1)),
        Parameter("beta_mb", 1e-6, 30.0, ("gamma", 3.0, 1.0), init=(0.5, 10.0), link="exp"),
        Parameter("beta_mf", 1e-6, 30.0, ("gamma", 3.0, 1.0), init=(0.5, 10.0), link="exp"),
        Parameter("beta2", 1e-6, 30.0, ("gamma", 3.0, 1.0), init=(0.5, 10.0), link="exp"),
        Parameter("lambda", 1e-6, 1.0, ("beta", 1.1, 1.1)),
        Parameter("p", -30.0, 30.0, ("normal", 0.0, 10.0), init=(-1.0, 1.0), link="identity"),
    ),
    first_trial=9,  # mbmf_driver.m fits from trial 10 on (1-based)
)



def hbayesdm(n_free):
    """hBayesDM's two-step models ts_par4, ts_par6 and ts_par7 (Ahn, Haines & Zhang 2017, as its
    Stan files' model blocks have them): a1, beta1, a2, beta2 (one a and one beta in ts_par4),
    stickiness pi in [0, 5] not scaled by beta, w, and lambda (1 in ts_par4 and ts_par6, where the
    trace's step is a1 itself); fixed transitions 0.7; the trace's r - Q2 taken after Q2's update.
    Hierarchically: Phi_approx for rates, weights and 5 pi, exp for the temperatures. The bounds on
    the temperatures (20) are the box of a MAP fit only."""
    temperature = dict(lower=0.0, upper=20.0, init=(0.5, 10.0), link="exp")
    if n_free == 4:
        free = (Parameter("alpha", *UNIT), Parameter("beta", **temperature))
    else:
        free = (Parameter("alpha1", *UNIT), Parameter("beta1", **temperature), Parameter("alpha2", *UNIT),
                Parameter("beta2", **temperature))
    free += (Parameter("p", 0.0, 5.0), Parameter("w", *UNIT)) + ((Parameter("lambda", *UNIT),) if n_free == 7 else ())
    return ModelSpec(f"ts_par{n_free}", free, () if n_free == 7 else (("lambda", 1.0),), trace="after", stickiness_times_beta=False)


HBAYESDM = tuple(hbayesdm(n) for n in (4, 6, 7))

SPECS = {s.name: s for s in (DAW2011, DAW2011_MF, DAW2011_MB, *KOOL2016, NUSSENBAUM2020, *HBAYESDM, *KOOL2016_NOVEL, *KOOL2017)}


# ---------------------------------------------------------------- the equations


def expand(spec: ModelSpec, theta):
    """Parameter vectors theta [..., n_free] -> the family's quantities, each [...] (or scalar)."""
    v = dict(spec.fixed) | {name: theta[..., i] for i, name in enumerate(spec.names)}
    alpha1, alpha2 = (v["alpha1"], v["alpha2"]) if "alpha1" in v else (v["alpha"], v["alpha"])
    if "beta_mb" in v:
        beta_mb, beta_mf, beta2, kappa = v["beta_mb"], v["beta_mf"], v["beta2"], 1.0
        high = beta_mb, beta_mf
    else:
        beta1, beta2 = (v["beta1"], v["beta2"]) if "beta1" in v else (v["beta"], v["beta"])
        w, w_hi = (v["w_lo"], v["w_hi"]) if "w_lo" in v else (v["w"], v["w"])
        beta_mb, beta_mf, high = w * beta1, (1 - w) * beta1, (w_hi * beta1, (1 - w_hi) * beta1)
        kappa = beta1 if spec.stickiness_times_beta else 1.0
    p, rho = kappa * v.get("p", 0.0), kappa * v.get("rho", 0.0)
    return {
        "alpha1": alpha1,
        "alpha2": alpha2,
        "lam": v["lambda"],
        "beta_mb": beta_mb,
        "beta_mf": beta_mf,
        "beta_mb_high": high[0],  # on a trial of high stakes (w_hi)
        "beta_mf_high": high[1],
        "beta2": beta2,
        "p": p,
        "rho": rho,
    }


def believed_common(spec: ModelSpec, common_minus_rare, xp=np):
    """P(S2 | action 0) as the learner believes it, from (#common - #rare) transitions seen."""
    if spec.transitions == "fixed":
        return spec.common_prob
    return xp.where(common_minus_rare > 0, spec.common_prob, xp.where(common_minus_rare < 0, 1 - spec.common_prob, 0.5))


def log_choices(logit1, action, logit2, choice2, xp=np):
    """log P(action) + log P(choice2) of two two-way softmax choices, each given the logit of
    option 1 over option 0: -softplus(z1) - softplus(z2) with z the logit against the choice,
    as max(z1, 0) + max(z2, 0) + log((1 + e^-|z1|)(1 + e^-|z2|)) (one log, no overflow)."""
    z1, z2 = logit1 * (1 - 2 * action), logit2 * (1 - 2 * choice2)
    return -(xp.maximum(z1, 0) + xp.maximum(z2, 0) + xp.log((1 + xp.exp(-xp.abs(z1))) * (1 + xp.exp(-xp.abs(z2)))))


# A learner's state between trials, each [P, K, E] or, for what depends on the choices alone,
# [P, 1, E]: q1 [F, 2, ...] (model-free values of actions 0, 1 in each of F first-stage states:
# one in Daw's paradigm, two in the novel one), q2 [2, 2, ...] ([S2, S3] x [option 0, option 1];
# the novel paradigm's one second-stage option is option 0), the previous action, its first-stage
# state and its screen side (-1 before the first), #common - #rare transitions seen, and which
# first-stage states were visited [F, P, 1, E]. A trial's cues, each [P, 1, E]: "layout" (the
# screen side of action 1), "state1" (the first-stage state; 0 in Daw's paradigm) and "stake".
# `trial_logits` and `trial_learn` are the equations of one trial, written once for numpy
# (`play`) and for JAX (`hierarchical`, xp = jax.numpy).

CUES = {"state1": 0, "stake": 1}  # cues besides the layout, with their value where a task has none


def first_states(spec: ModelSpec):
    """How many first-stage states the spec's paradigm has."""
    return 2 if spec.paradigm == "novel" else 1


def at_first_state(values, state1, xp=np):
    """values [F, ...] -> the values [...] of each trial's first-stage state."""
    return values[0] if values.shape[0] == 1 else xp.where(state1 == 1, values[1], values[0])


def initial_state(spec: ModelSpec, shape, xp=np):
    """A fresh learner's state for values of `shape` (P, K, E)."""
    n_people, _, n_episodes = shape
    previous = xp.full((n_people, 1, n_episodes), -1)
    return {"q1": xp.full((first_states(spec), 2, *shape), spec.q_init), "q2": xp.full((2, 2, *shape), spec.q_init),
            "previous_action": previous, "previous_state1": previous, "previous_side": previous,
            "common_minus_rare": xp.zeros((n_people, 1, n_episodes)),
            "visited": xp.zeros((first_states(spec), n_people, 1, n_episodes), bool)}


def trial_logits(spec: ModelSpec, q, state, cues, xp=np):
    """The first-stage logit of action 1 over 0 [P, K, E] and the second-stage logits of option 1
    over 0 in S2 and S3 [2, P, K, E], given `expand`'s quantities q and the trial's cues. In the
    novel paradigm the values and the choice stickiness are those of the trial's first-stage
    state, and a second-stage state's value is its one option's."""
    q1, q2, previous_action, previous_side = state["q1"], state["q2"], state["previous_action"], state["previous_side"]
    q1 = at_first_state(q1, cues["state1"], xp)
    best = q2[:, 0] if spec.paradigm == "novel" else xp.maximum(q2[:, 0], q2[:, 1])
    if spec.transitions == "seen":  # 0.5 / 0.5 until the first visit of this first-stage state, then known
        belief = xp.where(at_first_state(state["visited"], cues["state1"], xp), 1.0, 0.0)
    else:
        belief = 2 * believed_common(spec, state["common_minus_rare"], xp) - 1
    model_based = belief * (best[1] - best[0])
    before = previous_action < 0
    if spec.paradigm == "novel":
        before = before | (state["previous_state1"] != cues["state1"])
    repeat = xp.where(before, 0.0, 2.0 * previous_action - 1)
    same_side = xp.where(previous_side < 0, 0.0, xp.where(cues["layout"] == previous_side, 1.0, -1.0))
    beta_mb, beta_mf = q["beta_mb"], q["beta_mf"]
    if spec.has_stakes:
        high = cues["stake"] > HIGH_STAKE
        beta_mb, beta_mf = xp.where(high, q["beta_mb_high"], beta_mb), xp.where(high, q["beta_mf_high"], beta_mf)
    logit1 = beta_mb * model_based + beta_mf * (q1[1] - q1[0]) + q["p"] * repeat + q["rho"] * same_side
    return logit1, q["beta2"] * (q2[:, 1] - q2[:, 0])


def trial_learn(spec: ModelSpec, q, state, cues, t, logits, response, xp=np):
    """After trial t's response (action, state, choice2, reward, used): the learner's new state
    and the log-probability of the response [P, K, E] (0 where not used; the first choice's
    alone in the novel paradigm). With spec.trace "after" (hBayesDM), the eligibility trace
    carries r - Q2 after Q2's own update."""
    (logit1, logit2), (action, reached_state, choice2, reward, used) = logits, response
    q1, q2 = state["q1"], state["q2"]
    at_s3, live = reached_state == S3, xp.where(used, 1.0, 0.0)  # weakly typed: keeps theta's precision
    if spec.paradigm == "novel":
        z1 = logit1 * (1 - 2 * action)
        log_prob = -live * (xp.maximum(z1, 0) + xp.log(1 + xp.exp(-xp.abs(z1))))
    else:
        log_prob = live * log_choices(logit1, action, logit2[0] + at_s3 * (logit2[1] - logit2[0]), choice2, xp)
    two = np.arange(2)[:, None, None, None]
    here = (cues["state1"] == np.arange(first_states(spec))[:, None, None, None])[:, None]  # [F, 1, P, 1, E]
    took = here & (action == two)
    chosen = (at_s3 == two[:, None]) & (choice2 == two)
    reached = (q2 * chosen).sum(axis=(0, 1))
    outcome_error = xp.where(used, reward, 0.0) - reached
    trace_error = outcome_error * (1 - q["alpha2"]) if spec.trace == "after" else outcome_error
    seen = used | ((t < spec.first_trial) & (action >= 0))
    return {
        "q1": q1 + took * (live * q["alpha1"] * (reached - (q1 * took).sum(axis=(0, 1)) + q["lam"] * trace_error)),
        "q2": q2 + chosen * (live * q["alpha2"] * outcome_error),
        "previous_action": xp.where(seen, action, state["previous_action"]),
        "previous_state1": xp.where(seen, cues["state1"], state["previous_state1"]),
        "previous_side": xp.where(seen, xp.where(action == 1, cues["layout"], 1 - cues["layout"]), state["previous_side"]),
        "common_minus_rare": state["common_minus_rare"] + xp.where(used, xp.where((action == 0) == (reached_state == S2), 1, -1), 0),
        "visited": state["visited"] | (here[:, 0] & used),
    }, log_prob


def play(spec: ModelSpec, theta, layout, respond, cues=None):
    """Run the equations over the trials of many sessions at once.

    theta [P, K, n_free]: K parameter vectors for each of P subjects. layout [P, E, T]: the
    screen side (0 left, 1 right) of first-stage action 1 on each trial of each episode; `cues`
    may hold the other cues of `CUES`, each [P, E, T] (those absent take their value there).
    At trial t, `respond(t, logit1, logit2)` gets the first-stage logit of action 1 over 0
    [P, K, E] and the second-stage logits of option 1 over 0 in S2 and in S3 [2, P, K, E], and
    returns the trial's (action, state, choice2, reward, used), each broadcasting to [P, K, E]:
    drawn (simulation) or recorded (likelihood); unused trials leave everything unchanged,
    except that before spec.first_trial a recorded action still sets the previous choice.
    Returns the log-probability of the responses [P, K, E, T], 0 at unused trials.
    """
    q = expand(spec, np.asarray(theta, np.float64)[:, :, None, :])
    (n_people, n_vectors), (n_episodes, n_trials) = np.shape(theta)[:2], layout.shape[1:]
    given = {"layout": layout} | {name: (cues or {}).get(name, np.full(layout.shape, fill)) for name, fill in CUES.items()}
    state = initial_state(spec, (n_people, n_vectors, n_episodes))
    out = np.zeros((n_trials, n_people, n_vectors, n_episodes))
    for t in range(n_trials):
        trial = {name: values[:, None, :, t] for name, values in given.items()}
        logits = trial_logits(spec, q, state, trial)
        state, out[t] = trial_learn(spec, q, state, trial, t, logits, respond(t, *logits))
    return np.moveaxis(out, 0, -1)


# ---------------------------------------------------------------- the likelihood of records


def people_records(records, people):
    """Records [P, ...] of the `people` chosen (a boolean mask or indices over the person axis)."""
    return {k: np.asarray(v)[people] for k, v in records.items()}


def _first_bad(records, key, bad):
    where = tuple(int(i) for i in np.argwhere(bad)[0])
    value = np.asarray(records[key])[where].item()
    raise ValueError(f"records[{key!r}] is {value!r} at [subject, episode, trial] = {list(where)}, a trial not marked missed")


def replay_inputs(spec: ModelSpec, records):
    """Checked arrays [P, E, T] that `log_likelihood` replays: action, state, choice2, reward,
    used (not missed and at or after spec.first_trial: the learner sees them), fitted (the used
    trials whose choices the likelihood counts: records["fitted"] if given, e.g. the training
    trials of a cross-validation fold, else all used), layout (side of action 1) and the cues
    state1 and stake (`CUES`; their value there where the records have none). Without
    "missed", no trial is; "side1" is read only if the spec has response stickiness."""
    action, state, choice2 = (np.asarray(records[k]) for k in ("action", "state", "choice2"))
    reward = np.asarray(records["reward"], np.float64)
    if action.ndim != 3:
        raise ValueError(f"records must be [subject, episode, trial] arrays; 'action' has shape {action.shape}")
    missed = np.asarray(records.get("missed", np.zeros(action.shape)), bool)
    checks = [
        ("action", ~np.isin(action, (0, 1))),
        ("state", ~np.isin(state, (S2, S3))),
        ("choice2", ~np.isin(choice2, (0, 1))),
        ("reward", ~np.isfinite(reward)),
    ]
    cues = {name: np.asarray(records.get(name, np.full(action.shape, fill))) for name, fill in CUES.items()}
    if spec.paradigm == "novel" and "state1" not in records:
        raise ValueError(f"{spec.name} is a model of Kool et al.'s novel paradigm: it needs records['state1'] (the first-stage "
                         "state), and these records are of Daw et al.'s task")
    if spec.paradigm == "daw" and ((cues["state1"] != 0) & ~missed).any():
        raise ValueError(f"{spec.name} is a model of Daw et al.'s task, and these records have a second first-stage state "
                         "(state1 1): fit a model of the novel paradigm (kool2016-novel-*, kool2017-novel-stakes)")
    checks += [("state1", ~np.isin(cues["state1"], (0, 1))), ("stake", ~(cues["stake"] > 0))]
    side = np.zeros_like(action)
    if spec.uses_sides:
        side = np.asarray(records["side1"])
        checks.append(("side1", ~np.isin(side, (0, 1))))
    for key, bad in checks:
        if (bad & ~missed).any():
            _first_bad(records, key, bad & ~missed)
    used = ~missed & (np.arange(action.shape[-1]) >= spec.first_trial)
    fitted = used & np.asarray(records.get("fitted", True), bool)
    return {
        "action": action,
        "state": state,
        "choice2": choice2,
        "reward": reward,
        "used": used,
        "fitted": fitted,
        "layout": np.where(action == 1, side, 1 - side),
        **cues,
    }


def replay_log_probs(spec: ModelSpec, inputs, theta):
    """log P(each trial's choices) [P, K, E, T] of `replay_inputs`' records at parameter vectors
    theta [P, K, n_free], 0 at trials not fitted (`hierarchical.trial_log_probs` in JAX)."""
    recorded = {k: v[:, None] for k, v in inputs.items() if k != "layout"}
    columns = ("action", "state", "choice2", "reward", "used")
    return play(spec, theta, inputs["layout"], lambda t, *_: tuple(recorded[k][..., t] for k in columns), inputs) * recorded["fitted"]


def replay_log_likelihood(spec: ModelSpec, inputs, theta):
    """Log-likelihood [P, K] of `replay_inputs`' fitted trials at parameter vectors theta [P, K, n_free]."""
    return replay_log_probs(spec, inputs, theta).sum(axis=(2, 3))


def log_likelihood(spec: ModelSpec, records, theta):
    """log P(first- and second-stage choices | parameters): records [P, E, T] arrays, theta
    [P, K, n_free] -> [P, K], summed over episodes and the trials each author fitted (and, given
    records["fitted"], those alone; the learner still learns from every answered trial)."""
    return replay_log_likelihood(spec, replay_inputs(spec, records), theta)


# ---------------------------------------------------------------- simulation


def simulate(spec: ModelSpec, theta, probs, rng: np.random.Generator, common_prob=0.7, cues=None):
    """Play the spec's task: theta [subject, n_free]; in Daw et al.'s paradigm probs [subject,
    episode, trial, 4] (reward probabilities of S2 option 0, S2 option 1, S3 option 0, S3 option
    1), in Kool et al.'s novel one the points of S2 and S3 [subject, episode, trial, 2] (the option
    chosen leads to its own state, which pays its points). `cues` may give each trial's "state1"
    and "stake" [subject, episode, trial] (`CUES`; their value there where absent). Screen sides are
    drawn at random. Returns records [subject, episode, trial] with the keys `log_likelihood` reads
    plus "common", "probs" (NaN in the novel paradigm, whose "points" are probs), "side2", "rt1",
    "rt2" (nan), "prob" (of the chosen first-stage action), and the cues given ("state1" always in
    the novel paradigm)."""
    novel = spec.paradigm == "novel"
    probs = np.asarray(probs, np.float64)
    width, bounded = (2, np.isfinite(probs)) if novel else (4, (probs >= 0) & (probs <= 1))
    if probs.ndim != 4 or probs.shape[-1] != width or not bounded.all():
        where = np.argwhere(~bounded)
        raise ValueError(f"probs must be [subject, episode, trial, {width}] " + ("points" if novel else "probabilities in [0, 1]")
                         + f"; shape {probs.shape}" + (f", {float(probs[tuple(where[0])])} at {where[0].tolist()}" if len(where) else ""))
    shape = probs.shape[:3]
    given = {name: np.broadcast_to(np.asarray((cues or {}).get(name, fill)), shape) for name, fill in CUES.items()}
    layout, layout2 = rng.integers(0, 2, (2,) + shape)
    keys = ("action", "state", "common", "choice2", "reward", "prob")
    trials = {k: np.zeros(shape, dtype) for k, dtype in zip(keys, (np.int64, np.int64, bool, np.int64, np.float64, np.float64))}

    def respond(t, logit1, logit2):
        u = rng.random((4,) + logit1.shape)
        action = (u[0] < expit(logit1)).astype(np.int64)
        if novel:  # deterministic transitions, one option at the second stage, paying its state's points
            common, state, choice2 = np.ones(action.shape, bool), action + S2, np.zeros_like(action)
            reward = np.take_along_axis(probs[:, None, :, t], action[..., None], -1)[..., 0]
        else:
            common = u[1] < common_prob
            state = np.where((action == 0) == common, S2, S3)
            choice2 = (u[2] < expit(np.where(state == S3, logit2[1], logit2[0]))).astype(np.int64)
            pay = np.take_along_axis(probs[:, None, :, t], option_index(state, choice2)[..., None], -1)[..., 0]
            reward = (u[3] < pay).astype(np.float64)
        for key, value in zip(keys, (action, state, common, choice2, reward, expit(np.where(action == 1, logit1, -logit1)))):
            trials[key][:, :, t] = value[:, 0]
        return action, state, choice2, reward, np.ones(action.shape, bool)

    play(spec, np.asarray(theta, np.float64)[:, None], layout, respond, given)
    trials.update(
        probs=np.full(shape + (4,), np.nan) if novel else probs,
        missed=np.zeros(shape, bool),
        side1=np.where(trials["action"] == 1, layout, 1 - layout),
        side2=np.where(trials["choice2"] == 1, layout2, 1 - layout2),
        rt1=np.full(shape, np.nan),
        rt2=np.full(shape, np.nan),
        **{name: np.array(values) for name, values in given.items() if name in (cues or {}) or (novel and name == "state1")},
        **({"points": probs} if novel else {}),
    )
    return trials


# ---------------------------------------------------------------- fitting


def person_keys(inputs):
    """[P] integers, one per person of `replay_inputs`: a digest of the trials the learner sees
    (their choices, states, rewards, sides, which are fitted, and the cues of `CUES` where they
    are not all at their value for a task without them), so a person's random starts depend on
    the person alone, not on who else is fitted beside them or on the padding."""
    keys = []
    for person in range(len(inputs["action"])):
        used = inputs["used"][person]
        cues = tuple(name for name, fill in CUES.items() if name in inputs and (inputs[name][person][used] != fill).any())
        columns = ("action", "state", "choice2", "reward", "fitted", "layout", *cues)
        digest = hashlib.sha256(np.ascontiguousarray(np.stack([np.asarray(inputs[k][person][used], np.float64) for k in columns])))
        keys.append(int.from_bytes(digest.digest()[:8], "little"))
    return keys


def restart_points(spec: ModelSpec, keys, restarts, seed):
    """Starting points [P, restarts, n_free], a Latin hypercube in the parameters' init ranges
    per subject: every parameter gets one start in each of `restarts` equal slices of its range
    (the learning rate's basins can be narrow, e.g. below 0.05). Person p's points are drawn from
    a generator seeded by (seed, keys[p]) (`person_keys`), so a fit alone equals a fit in a group."""
    low, high = np.array([p.init or (p.lower, p.upper) for p in spec.free]).T
    fractions = []
    for key in keys:
        rng = np.random.default_rng([seed, key])
        slices = rng.permuted(np.broadcast_to(np.arange(restarts), (len(low), restarts)), axis=-1)
        fractions.append((slices + rng.random(slices.shape)) / restarts)
    return low + (high - low) * np.swapaxes(np.reshape(fractions, (len(keys), len(low), restarts)), 1, 2)


def laplace_log_evidence(logpost, hessian, bic):
    """mfit_bms's log model evidence, as Kool et al. computed theirs: logpost + K/2 log 2 pi - 1/2
    log det H (H the Hessian of -log posterior at the MAP), or -(bic - K log 2 pi) / 2 where det H
    is not positive. (For our fits, `log_evidence`: this formula also passes saddles.)"""
    k = hessian.shape[-1]
    sign, log_det = np.linalg.slogdet(hessian)
    laplace = logpost + 0.5 * (k * np.log(2 * np.pi) - log_det)
    return np.where(sign > 0, laplace, -0.5 * (bic - k * np.log(2 * np.pi)))


def bic(loglik, n_free, n_trials):
    """Schwarz's criterion K log N - 2 loglik, N the trials the likelihood used (mfit counts every
    trial recorded, missed ones too, and Nussenbaum et al.'s fits the 9 warm-up trials)."""
    return n_free * np.log(n_trials) - 2 * loglik


def one_sided_log_integral(slope, curvature, width):
    """log of the integral over d in [0, width] of exp(-slope d - curvature d^2 / 2): a posterior
    whose mode sits on a bound, `slope` its -log density's slope into the box. Where the
    curvature is not positive, the exponential alone (slope >= 1 / width there)."""
    if curvature <= 0:
        return np.log(-np.expm1(-slope * width)) - np.log(slope)
    z, z_far = slope / np.sqrt(2 * curvature), (slope + curvature * width) / np.sqrt(2 * curvature)
    inside = erfcx(z) - np.exp(-slope * width - curvature * width**2 / 2) * erfcx(z_far)
    return 0.5 * np.log(np.pi / (2 * curvature)) + np.log(inside)


def person_log_evidence(spec: ModelSpec, x, logpost, gradient, hessian, n_trials, near=1e-6):
    """One fit's log model evidence, log of the integral of likelihood x prior over the box, and
    the method that gave it, from its MAP x, log posterior there, and the gradient and Hessian of
    -log posterior.

    Each coordinate is one of three kinds. Flat: the Laplace width 1/sqrt(H_ii) exceeds the box
    (and, on a bound, the posterior falls by less than 1 nat across it), as lambda when w = 1 or
    everything but the stickiness when alpha = 0: integrated against its prior (mass 1 on the box),
    i.e. its log prior density leaves logpost. On a bound (within `near` of the box): the 1-D
    integral of the quadratic from the bound inwards (`one_sided_log_integral`, cross terms with
    the other coordinates left out). Interior: Laplace over their block of H, which must be
    positive definite. "laplace" where every coordinate is interior (mfit's formula);
    "laplace-reduced" where some are not; "unit-information" where the interior block is not
    positive definite (a saddle): Laplace with H = N I, logpost + K/2 (log 2 pi - log N), which is
    -BIC/2 + K/2 log 2 pi with the log prior kept, as BIC approximates the evidence.
    """
    width = spec.upper - spec.lower
    at_lower = x - spec.lower <= near * width
    on_bound = at_lower | (spec.upper - x <= near * width)
    slope = np.where(at_lower, gradient, -gradient)
    curvature = np.diag(hessian)
    flat = (curvature * width**2 < 1) & (~on_bound | (slope * width < 1))
    interior = ~on_bound & ~flat
    block = hessian[np.ix_(interior, interior)]
    if interior.any() and np.linalg.eigvalsh(block).min() <= 0:
        return logpost + 0.5 * len(x) * (np.log(2 * np.pi) - np.log(n_trials)), "unit-information"
    total = logpost + 0.5 * (interior.sum() * np.log(2 * np.pi) - np.linalg.slogdet(block)[1])
    total -= sum(spec.free[i].log_prior(x[i]) for i in np.flatnonzero(flat))
    total += sum(np.log(p.unbounded_slope(x[i])) for i, p in enumerate(spec.free) if interior[i] and p.prior[0] == "logit-normal")
    total += sum(one_sided_log_integral(slope[i], curvature[i], width[i]) for i in np.flatnonzero(on_bound & ~flat))
    return float(total), "laplace" if interior.all() else "laplace-reduced"


def log_evidence(spec: ModelSpec, x, logpost, gradient, hessian, n_trials):
    """`person_log_evidence` of every fit: x, gradient [P, n], logpost, n_trials [P], hessian
    [P, n, n] -> (log evidence [P], method [P])."""
    pairs = [person_log_evidence(spec, *person) for person in zip(x, logpost, gradient, hessian, n_trials)]
    return np.array([value for value, _ in pairs]), np.array([method for _, method in pairs], dtype=object)


def embed(source: ModelSpec, params, target: ModelSpec):
    """Parameter vectors of `source` [..., n_source] as vectors of `target` [..., n_target]: each
    free parameter of the target takes the source's value (free or fixed; stickiness the source
    lacks is 0), clipped to the target's bounds. A nested model's fit is a good start."""
    values = dict(source.fixed) | {name: params[..., i] for i, name in enumerate(source.names)}
    missing = [name for name in target.names if name not in values and name not in ("p", "rho")]
    if missing:
        raise ValueError(f"embed: {source.name} has no {missing} of {target.name}")
    columns = [np.broadcast_to(values.get(name, 0.0), np.shape(params)[:-1]) for name in target.names]
    return np.clip(np.stack(columns, axis=-1), target.lower, target.upper)


def nested(source: ModelSpec, target: ModelSpec):
    """Whether `source` is `target` with some parameters held: every parameter of the source is
    free in the target or fixed there to the same value, the target's free parameters the source
    lacks are stickiness (off at 0), and both share the equations' settings (paradigm, transitions, trace,
    units of stickiness) and fit the same trials."""
    held = dict(source.fixed)
    fixed = dict(target.fixed)
    same = ("paradigm", "transitions", "common_prob", "first_trial", "q_init", "trace", "stickiness_times_beta")
    alike = all(getattr(source, name) == getattr(target, name) for name in same)
    return (
        source != target
        and alike
        and all(name in target.names or (name in held and fixed.get(name) == held[name]) for name in (*source.names, *held))
        and all(name in source.names or name in held or name in ("p", "rho") for name in target.names)
    )


def nested_starts(spec: ModelSpec, known):
    """Starting points [P, m, n_free] for `fit` from the fits `known` (spec name -> params [P, n])
    of the models nested in `spec`; None if there are none."""
    starts = [embed(SPECS[name], params, spec) for name, params in known.items() if nested(SPECS[name], spec)]
    return np.stack(starts, axis=1) if starts else None


def fit_nested(specs, records, restarts=16, seed=0, fitted=None):
    """MAP fits (`fit`) of several models to the same records, the smallest first, each also
    started from the fits of the models nested in it (`nested`, `embed`), so that a basin a
    nested model found is searched by the larger one too.
    `fitted` maps spec names to params [P, n_free] already known (used as starts, not refitted).
    Yields (spec, result of `fit`) in the order fitted."""
    known = dict(fitted or {})
    for spec in sorted(specs, key=lambda s: len(s.free)):
        if spec.name in known:
            continue
        result = fit(spec, records, restarts, seed, starts=nested_starts(spec, known))
        known[spec.name] = result["params"]
        yield spec, result


def fit(spec: ModelSpec, records, restarts=16, seed=0, starts=None, iterations=100):
    """MAP fits of every subject of records [P, E, T] at once.

    Each subject's `restarts` random starting points (`restart_points`, keyed by the seed and the
    subject's own trials), and `starts` [P, m,
    n_free] if given (e.g. `embed` of a nested model's fit), run in lock-step through
    `box_newton.minimize_box`; the best is kept, and a warning names the subjects whose best
    start was still moving at `iterations`. Returns arrays over subjects: "params" [P, n_free] (in
    spec.names order), "loglik", "logpost", "trials" (that the likelihood used), "bic" (`bic`),
    "log_evidence" and "evidence_method" (`log_evidence`), "status" (the best start's,
    `box_newton`), "hessian" [P, n, n] of -logpost at the optimum, and per start "objective"
    [P, starts] (the minimised -logpost where it stopped), "iterations" and "statuses".
    """
    inputs = replay_inputs(spec, records)
    n_people = len(inputs["action"])
    x0 = restart_points(spec, person_keys(inputs), restarts, seed)
    if starts is not None:
        x0 = np.concatenate([x0, np.clip(starts, spec.lower, spec.upper)], axis=1)

    def objective(rows, points):
        people = rows // x0.shape[1]
        return -(replay_log_likelihood(spec, {k: v[people] for k, v in inputs.items()}, points) + log_prior(spec, points))

    x, f, used, statuses = box_newton.minimize_box(objective, x0, spec.lower, spec.upper, iterations)
    best_start = f.argmin(axis=1)
    best, status = x[np.arange(n_people), best_start], statuses[np.arange(n_people), best_start]
    capped = np.flatnonzero(status == box_newton.ITERATION_CAP)
    if len(capped):
        warnings.warn(f"{spec.name}: the best start of {len(capped)} of {n_people} subjects (positions {capped.tolist()[:10]}"
                      f"{' ...' if len(capped) > 10 else ''}) was still improving after {iterations} iterations; raise iterations")
    _, gradient, hessian = box_newton.derivatives(
        lambda rows, p: objective(rows * x0.shape[1], p), np.arange(n_people), best, spec.lower, spec.upper
    )
    loglik = log_likelihood(spec, records, best[:, None])[:, 0]
    logpost = loglik + log_prior(spec, best)
    trials = inputs["fitted"].sum(axis=(1, 2))
    evidence, method = log_evidence(spec, best, logpost, gradient, hessian, trials)
    return {
        "params": best,
        "loglik": loglik,
        "logpost": logpost,
        "trials": trials,
        "bic": bic(loglik, len(spec.free), trials),
        "log_evidence": evidence,
        "evidence_method": method,
        "status": status,
        "hessian": hessian,
        "objective": f,
        "iterations": used,
        "statuses": statuses,
    }
