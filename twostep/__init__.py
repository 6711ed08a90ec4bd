"""The project's library beside the three top-level modules of the reference layout.

`two_step_env` (the task), `a2c_lstm` (the agent and its training) and `helper` (figures and
notebook glue) stay at the top level, where the reference's notebooks import them. Everything else
lives here, one job per module, imported as `from twostep import analysis`: the task's and agent's
configurations (`configs`), checkpoints (`checkpoints`), TensorBoard events (`events`), reference
agents (`agents`), analyses on per-trial arrays (`analysis`), analyses of trained runs
(`run_analysis`), sweeps on Ray (`sweep`) and the command line (`cli`).
"""
