"""The learning kit every learned node shares: networks (networks.py), normalizers
(normalize.py), the one checkpoint format (checkpoint.py) and the fitting loop (fit.py).
No robot, task or controller knowledge here: callers say what the inputs and outputs are."""
