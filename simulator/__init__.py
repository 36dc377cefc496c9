"""The SimPy model of the center, its month forecast and its analytic companion."""
