"""Plan: a pure function of (desired, observed) that lists the actions to converge, in order."""
