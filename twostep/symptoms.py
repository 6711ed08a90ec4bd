"""Gillan, Kosinski, Whelan, Phelps & Daw 2016 (eLife 5:e11305): how staying after a reward and a
transition depends on a person's symptom scores, as a mixed-effects logistic regression.

Every pair of consecutive usable trials (neither missed) is a row: `stay` (the first-stage action
repeated), the earlier trial's `reward` (+1 rewarded, -1 not) and `transition` (+1 common, -1
rare), the person, and their scores. The paper's model (glmer in R): stay on reward, transition
and reward x transition, each crossed with the symptom scores and the covariates (age, IQ, gender),
with per-person random effects of the intercept, reward, transition and reward x transition.
Scores and covariates are z-scored over the people in the fit (gender as coded, -1/1); the
model-based signature is `reward:transition`, and a score's effect on it `reward:transition:<score>`.

The fit is GPBoost's `GPModel` (a maintained library, C++ with a Python interface): a Bernoulli
logit likelihood with grouped random effects, fitted, as glmer fits it, by maximising the Laplace
approximation of the marginal likelihood, with standard errors of the fixed effects from its
curvature and p the two-sided normal tail of estimate / SE (glmer's Wald z). One difference: a
person's four random effects are independent (glmer estimates their correlations too).
statsmodels' `BinomialBayesMixedGLM`, the other Python option, was tried: its variational fit gave
every fixed effect the same SD (0.014 on 200 people), blind to the spread between people, so its
p-values for the scores could not be used.
"""

import os

import numpy as np

STAY_TERMS = ("reward", "transition", "reward:transition")
COVARIATES = ("age", "iq", "gender")


def stay_trials(records, scores, names):
    """Rows of consecutive usable trials as a pandas table: subject (a person's position), stay,
    reward, transition, and each of `names` from `scores` (name -> [person]), z-scored over the
    people here except gender. records: the project's [person, session, trial] arrays."""
    import pandas as pd

    from two_step_env import stay_pairs

    pairs = stay_pairs(*(records[k] for k in ("action", "common", "reward", "missed")))
    usable = pairs["pair"]
    person = np.broadcast_to(np.arange(len(usable))[:, None, None], usable.shape)[usable]
    table = pd.DataFrame({"subject": person, **{k: pairs[k][usable] for k in ("stay", "reward", "transition")}})
    for name in names:
        values = np.asarray(scores[name], float)
        if np.isnan(values).any():
            raise ValueError(f"score {name!r} is missing (NaN) for {int(np.isnan(values).sum())} of {len(values)} people")
        if name != "gender":
            values = (values - values.mean()) / values.std()
        table[name] = values[person]
    return table


def formula(names):
    """The fixed effects: each of STAY_TERMS crossed with the scores and covariates `names` (if any)."""
    terms = "reward + transition + reward:transition"
    return f"stay ~ ({terms}) * ({' + '.join(names)})" if names else f"stay ~ {terms}"


def mixed_stay_regression(table, names):
    """The fit of `formula(names)` with per-person random intercept, reward, transition and
    reward x transition effects on `stay_trials`' table: a pandas table of fixed effects, columns
    term, estimate, se, p."""
    import gpboost
    import pandas as pd
    import patsy
    from scipy.stats import norm

    endog, exog = patsy.dmatrices(formula(names), table, return_type="dataframe")
    slopes = np.column_stack([table["reward"], table["transition"], table["reward"] * table["transition"]])
    model = gpboost.GPModel(group_data=table["subject"].to_numpy(), group_rand_coef_data=slopes,
                            ind_effect_group_rand_coef=[1, 1, 1], likelihood="bernoulli_logit",
                            num_parallel_threads=os.cpu_count())  # set: GPBoost otherwise prints a note on threads
    model.fit(y=endog.iloc[:, 0].to_numpy(), X=exog.to_numpy())
    model.get_cov_pars(std_err=True)  # computes the standard errors get_coef then reports (else NaN)
    coefficients = model.get_coef(std_err=True)  # rows "Param." and "Std. err.", a column per term
    estimate, se = coefficients.iloc[0].to_numpy(), coefficients.iloc[1].to_numpy()
    return pd.DataFrame({"term": [str(c).replace("Intercept", "intercept") for c in exog.columns], "estimate": estimate,
                         "se": se, "p": 2 * norm.sf(np.abs(estimate / se))})


STUDY_SCORES = {1: ("oci", "sds", "stai"), 2: ("Factor1", "Factor2", "Factor3")}  # each study's symptom scores, in one model


def gillan_stay_regressions(data):
    """Both studies' regressions (`mixed_stay_regression`) on a loaded gillan2016 `HumanData`'s
    analysed people: each study's symptom scores (`STUDY_SCORES`) together with the covariates.
    A pandas table, columns study, term, estimate, se, p."""
    import pandas as pd

    tables = []
    for study, scores in STUDY_SCORES.items():
        people = data.select(data.included & (data.scores["study"] == study))
        names = [*scores, *COVARIATES]
        table = mixed_stay_regression(stay_trials(people.records, people.scores, names), names)
        tables.append(table.assign(study=study))
    return pd.concat(tables, ignore_index=True)[["study", "term", "estimate", "se", "p"]]


def person_measures(records):
    """What the paper's figures show, per person (or simulated play): a pandas table, one row per
    [subject, episode] of records, with "reward" (the mean reward probability of the options taken,
    on usable trials), the four stay probabilities (`two_step_env.STAY_CELLS`) and the
    "model-based index" read off them (`two_step_env.model_based_index`)."""
    import pandas as pd

    from twostep.configs import option_index
    from two_step_env import STAY_CELLS, model_based_index, stay_probabilities

    action, state, choice2 = (np.asarray(records[k]) for k in ("action", "state", "choice2"))
    missed = np.asarray(records.get("missed", np.zeros(action.shape, bool)))  # simulated players miss nothing
    probs = np.asarray(records["probs"], float)
    taken = np.take_along_axis(probs, np.where(missed, 0, option_index(state, choice2))[..., None], -1)[..., 0]
    reward = np.where(missed, np.nan, taken)
    stays, _ = stay_probabilities(action[..., None, :], records["common"][..., None, :], records["reward"][..., None, :],
                                  missed[..., None, :])
    table = pd.DataFrame({"reward": np.nanmean(reward, axis=-1).ravel()})
    for k, cell in enumerate(STAY_CELLS):
        table[f"stay {cell}"] = stays[..., k].ravel()
    table["model-based index"] = model_based_index(stays).ravel()
    return table


def parameter_regression(fits, data, model, parameter, study):
    """A fitted parameter against a study's symptom scores: ordinary least squares of `parameter`
    of `model` (from a fits table, `two-step fit`'s columns, subject = the file's stem) on the
    study's scores (`STUDY_SCORES`) and the covariates, all z-scored but gender, over the analysed
    people of that study in `data` (gillan2016). A pandas table: term, estimate, se, p."""
    import pandas as pd
    import statsmodels.api as sm

    people = data.select(data.included & (data.scores["study"] == study))
    rows = fits[fits["model"] == model].astype({"subject": str}).set_index("subject")
    y = rows.loc[list(people.subject), parameter].to_numpy(float)
    names = [*STUDY_SCORES[study], *COVARIATES]
    columns = {name: np.asarray(people.scores[name], float) for name in names}
    x = pd.DataFrame({name: v if name == "gender" else (v - v.mean()) / v.std() for name, v in columns.items()})
    fit = sm.OLS(y, sm.add_constant(x)).fit()
    return pd.DataFrame({"term": ["intercept", *names], "estimate": fit.params.to_numpy(), "se": fit.bse.to_numpy(),
                         "p": fit.pvalues.to_numpy()})


def covariate_values(data, name):
    """A covariate of a loaded `HumanData`, one number per person: "age" or a score
    (`HumanData.scores`); ValueError naming what there is, or a covariate that is not numbers."""
    available = {"age": data.age, **(data.scores or {})}
    if not name.isidentifier() or name in ("stay", "subject", *STAY_TERMS):
        raise ValueError(f"covariate {name!r}: a name of letters, digits and underscores, other than stay, subject, reward "
                         "and transition, is needed in the regression's formula: rename the column")
    if name not in available:
        raise ValueError(f"covariate {name!r} is not in {data.dataset}: expected one of {', '.join(sorted(available))}")
    values = np.asarray(available[name])
    if values.dtype.kind not in "biuf":
        raise ValueError(f"covariate {name!r} of {data.dataset} holds text ({values[0]!r}, ...): code it as numbers")
    return values.astype(float)


def regress(data, covariates=()):
    """Daw et al. 2011's stay regression, per person (`analysis.stay_regression`) and mixed
    (`mixed_stay_regression`, each covariate crossed with reward x transition), on a loaded
    `HumanData`'s analysed people (`included`) with every covariate recorded. Returns (per-person
    table: subject, term, coef, se, converged; mixed table: term, estimate, se, p; the number of
    people left out for a missing covariate)."""
    import pandas as pd

    from twostep.analysis import stay_regression

    values = {name: covariate_values(data, name) for name in covariates}
    complete = data.included & np.all([~np.isnan(v) for v in values.values()], axis=0) if values else data.included
    if complete.sum() < 2:
        raise ValueError(f"{data.dataset}: {int(complete.sum())} of {len(complete)} people have every covariate of "
                         f"{list(covariates)} (and are analysed): nothing to regress")
    for name, v in values.items():
        if np.ptp(v[complete]) == 0:
            raise ValueError(f"covariate {name!r} is {v[complete][0]} for every person analysed: it explains nothing")
    people = data.select(complete)
    fits = stay_regression(*(people.records[k] for k in ("action", "common", "reward", "missed")))
    per_person = pd.DataFrame([{"subject": subject, "term": term, "coef": v["coef"], "se": v["se"], "converged": v["converged"]}
                               for subject, fit in zip(people.subject, fits) for term, v in fit.items()])
    scores = {name: v[complete] for name, v in values.items()}
    mixed = mixed_stay_regression(stay_trials(people.records, scores, list(covariates)), list(covariates))
    return per_person, mixed, int((data.included & ~complete).sum())
