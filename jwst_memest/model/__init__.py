"""Estimators: the physics baseline and trained model bundles, with their upper bounds."""
