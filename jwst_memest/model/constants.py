"""Units and names the physics baseline and its fit share (a module of their own: neither imports the other's)."""

__all__ = ["GB", "GIB", "MEMBERS_STAGE"]

GB = 1e9
GIB = 2.0**30
# the stage every step runs on top of: the interpreter, the libraries and the models kept resident
MEMBERS_STAGE = "members held in memory"
