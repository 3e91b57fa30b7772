"""Train, cross-validate and package memory models (Keras MLPs exported to numpy bundles).

Needs the ``train`` extra (tensorflow, pandas, scikit-learn, matplotlib, tqdm); the
estimation path never imports it.
"""

__all__ = ["JwstCalTrain"]


def __getattr__(name):
    if name == "JwstCalTrain":
        from jwst_memest.training.train import JwstCalTrain

        return JwstCalTrain
    raise AttributeError(name)
