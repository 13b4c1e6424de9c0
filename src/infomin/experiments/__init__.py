"""Measuring views: the critic engine, I_NCE over seeds, sweeps, the toy table, the demo.

May import: data, views, objectives, models, evaluate and the shared helpers.
"""
