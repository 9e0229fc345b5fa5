"""Flink's runtime as plain Python: operators, chains, partitioners, record writers, the task.

Layer: above `sim.state` and `sim.graph`, below the simulated world
(`sim.cluster`) that drives it. Never imports SimPy and never reads a clock:
time and input are handed in; output and CPU cost are handed back.
"""
