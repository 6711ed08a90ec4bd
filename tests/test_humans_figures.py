"""The figures of humans.ipynb (helper.py): each draws its groups, panels and reference levels from plain arrays."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import helper
from twostep import analysis

RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_stay_spread_figure_has_a_panel_per_group_and_the_means_with_their_intervals():
    many, few = RNG.uniform(0.3, 0.9, (40, 4)), RNG.uniform(0.3, 0.9, (3, 4))
    many[0, 1] = np.nan  # a cell without pairs is left out, not drawn as NaN
    fig = helper.stay_spread_figure({"people": many, "agent": few})
    assert [ax.get_title() for ax in fig.axes] == ["people", "agent"]
    means = fig.axes[0].lines  # errorbar lines: the markers at the means
    plotted = sorted(line.get_ydata()[0] for line in means if line.get_marker() == "o")
    np.testing.assert_allclose(plotted, sorted(np.nanmean(many, axis=0)))
    assert len(fig.axes[0].collections) >= 4  # a violin per cell
    assert fig.axes[0].get_ylim() == (0.0, 1.0)


def test_stay_spread_figure_draws_a_single_subject_and_constant_values():
    fig = helper.stay_spread_figure({"one": np.array([0.9, 0.6, 0.6, 0.9]), "constant": np.full((20, 4), 0.5)})
    assert len(fig.axes) == 2


def test_regression_figure_shows_every_subjects_coefficient_per_term():
    action = RNG.integers(0, 2, (3, 20, 30))
    common, reward = RNG.random((3, 20, 30)) < 0.7, (RNG.random((3, 20, 30)) < 0.5).astype(float)
    fits = {"three seeds": analysis.stay_regression(action, common, reward), "pooled": analysis.stay_regression(action[:1], common[:1], reward[:1])}
    fig = helper.regression_figure(fits)
    assert len(fig.axes) == 3 and "model-based index" in fig.axes[-1].get_title()
    interaction = fig.axes[-1]
    drawn = np.concatenate([line.get_ydata() for line in interaction.lines if line.get_marker() == "o"])
    expected = [f["reward x transition"]["coef"] for f in fits["three seeds"] + fits["pooled"]]
    np.testing.assert_allclose(sorted(drawn), sorted(expected))
    assert [t.get_text() for t in interaction.get_xticklabels()] == list(fits)


def test_parameter_figure_has_a_panel_per_parameter_with_its_label_and_bounds():
    groups = {"people": RNG.random((50, 2)), "seeds": RNG.random((8, 2))}
    fig = helper.parameter_figure(groups, ("alpha", "w"), {"w": "model-based weight w"}, {"w": (0.0, 1.0)})
    assert [ax.get_title() for ax in fig.axes] == ["alpha", "model-based weight w"]
    low, high = fig.axes[1].get_ylim()
    assert -0.1 < low < 0.0 and 1.0 < high < 1.1  # the bounds with a margin


def test_reward_spread_figure_draws_the_reference_levels():
    fig = helper.reward_spread_figure({"people": RNG.normal(0.53, 0.05, 100), "oracle-like": RNG.normal(0.63, 0.01, 5)},
                                      {"oracle": 0.629, "chance": 0.5})
    ax = fig.axes[0]
    levels = [line.get_ydata()[0] for line in ax.lines if line.get_linestyle() in ("--", ":")]
    assert levels == [0.629, 0.5]
    assert any("oracle (0.629)" in t.get_text() for t in ax.get_legend().get_texts())


def test_reward_against_w_figure_reports_peoples_correlation_and_draws_the_sweep():
    w = RNG.random(60)
    reward = 0.05 * w + RNG.normal(0, 0.01, 60)
    sweep_w = [0.0, 0.5, 1.0]
    sweep = RNG.normal(0.03, 0.01, (3, 60))
    fig = helper.reward_against_w_figure(w, reward, sweep_w, sweep, {"agent seeds": (np.array([0.6, 0.7]), np.array([0.05, 0.04]))})
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert texts[0] == f"people (r = {np.corrcoef(w, reward)[0, 1]:.2f})" and "agent seeds" in texts
    sweep_line = next(line for line in fig.axes[0].lines if line.get_label().startswith("simulated"))
    np.testing.assert_allclose(sweep_line.get_ydata(), sweep.mean(axis=1))


def test_model_wins_figure_has_a_bar_per_model_and_criterion():
    wins = pd.DataFrame({"BIC": [3, 0, 5], "Laplace log evidence": [1, 4, 3]}, index=["hybrid", "mb", "mf"])
    fig = helper.model_wins_figure(wins)
    ax = fig.axes[0]
    assert len(ax.patches) == 6
    assert [t.get_text() for t in ax.get_yticklabels()] == ["hybrid", "mb", "mf"]
    assert sorted(p.get_width() for p in ax.patches) == sorted(wins.to_numpy().ravel())
