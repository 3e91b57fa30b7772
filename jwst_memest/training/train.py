"""JwstCalTrain: cross-validated Keras training, reports and bundle export."""

from __future__ import annotations

import datetime
import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from jwst_memest.atomic import atomic_path, atomic_write
from jwst_memest.model.baseline import load_baseline
from jwst_memest.model.bundle import HYBRID_TRANSFORM, MIN_GB
from jwst_memest.model.metrics import held_out_metrics
from jwst_memest.model.upper import UpperBound
from jwst_memest.training.architecture import DEFAULT_LAYERS, build_mlp, default_layer_kwargs
from jwst_memest.training.crossval import Fold, make_folds, validation_rows
from jwst_memest.tables import load_training_data
from jwst_memest.training.export import export_bundle, training_provenance
from jwst_memest.training.preprocess import continuous_features, fit_normalizer
from jwst_memest.training.report import (comparison_table, memory_bins, metrics_table, plot_fold,
                                         write_summary_html, write_summary_page)


__all__ = ["JwstCalTrain", "OUTPUT_TRANSFORM", "UPPER_QUANTILE", "TARGETS", "quiet_tensorflow"]

# Memory spans three decades: the network learns log1p(GB), and the bundle inverts it.
OUTPUT_TRANSFORM = "log1p"
# What the network learns: "log1p" (GB on its own, the default) or "physics-ratio" (a hybrid:
# log(measured / physics baseline estimate), a correction the bundle applies to the baseline).
TARGETS = {"log1p": "log1p(GB)", "physics-ratio": "log(measured / baseline)"}
# The bound quoted in the metrics (share of measured peaks above it).
UPPER_QUANTILE = 0.95
EARLY_STOPPING_MONITORS = ("val_rmse", "val_loss")


def quiet_tensorflow(verbose: bool = False) -> None:
    """Keep tensorflow's own logging off the terminal unless ``verbose``.

    The C++ level is read when tensorflow is imported: call this first (the command line does).
    Once tensorflow is loaded its Python loggers are quietened too (retracing warnings).

    Parameters
    ----------
    verbose : bool, optional
        Leave tensorflow's logging as it is.
    """
    if verbose:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")  # absl's "log messages before InitializeLog" line
    if "tensorflow" in sys.modules:
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
        try:
            import absl.logging

            absl.logging.set_verbosity(absl.logging.ERROR)
        except ImportError:
            pass


def _epoch_callbacks(bar, X_test, y_test, fold_label):
    """Keras callbacks: advance the run's tqdm bar per epoch, and record the test loss without training on it."""
    import keras

    class TestLoss(keras.callbacks.Callback):
        """MSE and RMSE on the test rows after each epoch, for the loss-history plot only."""

        def __init__(self):
            super().__init__()
            self.history = {"test_loss": [], "test_rmse": []}

        def on_epoch_end(self, epoch, logs=None):
            predicted = np.asarray(self.model(X_test, training=False))[:, 0]
            mse = float(np.mean((predicted - y_test) ** 2))
            self.history["test_loss"].append(mse)
            self.history["test_rmse"].append(mse ** 0.5)

    class EpochBar(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            bar.set_postfix_str(f"{fold_label}, loss {logs.get('loss', float('nan')):.4f}, "
                                f"val {logs.get('val_loss', float('nan')):.4f}", refresh=False)
            bar.update(1)

    return TestLoss(), EpochBar()


def _best_checkpoint(path: Path, monitor: str):
    """A Keras callback keeping the model of the best epoch so far (lowest ``monitor``) at ``path``.

    What keras' ModelCheckpoint(save_best_only=True) does, with each save through ``atomic_path``: a
    reader (or a killed run) never finds half a checkpoint.
    """
    import keras

    class BestCheckpoint(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.best = np.inf

        def on_epoch_end(self, epoch, logs=None):
            value = (logs or {}).get(monitor)
            if value is not None and np.isfinite(value) and value < self.best:
                self.best = float(value)
                with atomic_path(path) as saved:
                    self.model.save(saved)

    return BestCheckpoint()


class JwstCalTrain:
    """Train the memory model for one exposure mode, with optional k-fold cross-validation.

    Output layout under ``<out>/<exp_mode>/``: data/, models/, results/, summary/ (see docs/training.md).
    ``main`` returns the path of the final bundle. Needs the ``train`` extra (tensorflow).

    Parameters
    ----------
    training_data : str, pathlib.Path or list of them, optional
        A train_dir, a training table or corpus CSV, or several CSVs of one kind
        (`jwst_memest.tables.load_training_data`).
    out : str, pathlib.Path or None, optional
        The output folder (default ``YYYY-MM-DD_<unix time>``); an existing one is added to.
    exp_mode : str, optional
        ``image`` or ``spec``.
    norm : int, optional
        1: Yeo-Johnson and standardisation of the continuous features; 0: none.
    cross_val : int, optional
        Folds (0: one 80/20 split, or the corpus' fixed split).
    early_stopping : str or None, optional
        ``val_rmse`` or ``val_loss`` to stop on, or None.
    threshold : float, optional
        GB: products at or above it are spread over the test splits.
    layer_kwargs : dict or None, optional
        Extra Dense arguments by 1-based layer number (default:
        `jwst_memest.training.architecture.default_layer_kwargs`).
    layers : sequence of int or None, optional
        Hidden layer sizes (default: the seed's for the mode).
    activation : str, optional
        The hidden layers' activation.
    epochs : int, optional
        Training epochs.
    batch_size : int, optional
        Rows per batch.
    learning_rate : float, optional
        Adam's initial learning rate.
    seed : int, optional
        Random seed of the splits and the network.
    model_name : str or None, optional
        The bundle's model name (default from the pipeline, feature set and target).
    model_version : str or None, optional
        Its version (default: today's date).
    patience : int, optional
        Epochs early stopping waits.
    target : str, optional
        ``log1p`` (the network learns log1p(GB)) or ``physics-ratio`` (a hybrid: it learns
        log(measured / physics baseline)).
    verbose : bool, optional
        Show tensorflow's own logging and Keras' per-epoch lines.

    Raises
    ------
    ValueError
        When ``early_stopping`` or ``target`` is unknown, the data cannot be read or is too small,
        or a physics-ratio model is asked for on rows of another feature set.
    """

    def __init__(self, training_data=None, out=None, exp_mode="image", norm=1, cross_val=0, early_stopping=None,
                 threshold=50, layer_kwargs=None, layers=None, activation="relu", epochs=200, batch_size=32,
                 learning_rate=1e-4, seed=42, model_name=None, model_version=None, patience=15, target="log1p",
                 verbose=False):
        if early_stopping is not None and early_stopping not in EARLY_STOPPING_MONITORS:
            raise ValueError(f"early_stopping must be one of {', '.join(EARLY_STOPPING_MONITORS)}, got {early_stopping!r}")
        if target not in TARGETS:
            raise ValueError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
        self.verbose = bool(verbose)
        quiet_tensorflow(self.verbose)
        self.target = target
        self.cross_val = int(cross_val or 0)
        self.data = load_training_data(training_data, exp_mode, folds=self.cross_val)
        if self.hybrid and not self.data.native:
            raise ValueError(f"{self.data.label}: a physics-ratio model corrects the physics baseline, which needs "
                             f"the {self.data.pipeline} features; these rows hold {self.data.feature_set}'s")
        # the estimator every model is compared with, and the one a hybrid corrects; it cannot
        # estimate rows of another feature set (spacekit's tables)
        self.baseline = load_baseline(self.data.pipeline) if self.data.native else None
        self.baseline_gb = self.baseline.predict(self.data.X) if self.baseline else None
        self.exp_mode, self.norm = exp_mode, bool(norm)
        self.early_stopping, self.threshold = early_stopping, float(threshold)
        self.layer_kwargs = default_layer_kwargs() if layer_kwargs is None else layer_kwargs
        self.layers = tuple(int(n) for n in layers) if layers else DEFAULT_LAYERS[exp_mode]
        self.activation, self.epochs, self.batch_size = activation, int(epochs), int(batch_size)
        self.learning_rate, self.seed, self.patience = float(learning_rate), int(seed), int(patience)
        own = "" if self.data.native else f"_{self.data.feature_set.split('_')[0]}"  # image3_spacekit_mlp
        self.model_name = model_name or f"{self.data.pipeline}{own}_{'hybrid' if self.hybrid else 'mlp'}"
        self.model_version = model_version or datetime.date.today().isoformat()
        stamp = f"{datetime.date.today().isoformat()}_{int(time.time())}"
        self.root = Path(out) if out else Path(stamp)
        self.out = self.root / exp_mode
        self.fold_metrics: list[dict] = []
        self.bundle_path: Path | None = None
        self.comparison: dict = {}

    @property
    def hybrid(self) -> bool:
        """Whether the model is a hybrid (target ``physics-ratio``) correcting the physics baseline.

        Returns
        -------
        bool
            True for a hybrid.
        """
        return self.target == "physics-ratio"

    @property
    def target_label(self) -> str:
        """What the network's loss is measured on, for plots and reports.

        Returns
        -------
        str
            Such as ``log1p(GB)``.
        """
        return TARGETS[self.target]

    # -- target ------------------------------------------------------------------
    def encode_target(self, y: np.ndarray, rows) -> np.ndarray:
        """The network's training target for measured peaks ``y`` of ``rows``.

        Parameters
        ----------
        y : numpy.ndarray
            Measured peaks, GB.
        rows : array_like
            Their rows (a hybrid's target is relative to the baseline's estimate of them).

        Returns
        -------
        numpy.ndarray
            log(y / baseline) for a hybrid, else log1p(y).
        """
        return np.log(y / self.baseline_gb[rows]) if self.hybrid else np.log1p(y)

    def decode_output(self, output: np.ndarray, rows) -> np.ndarray:
        """GB from the network output for ``rows``, as the exported bundle computes it (with its floor).

        Parameters
        ----------
        output : numpy.ndarray
            The network's output.
        rows : array_like
            Their rows.

        Returns
        -------
        numpy.ndarray
            GB, at least the bundle's floor.
        """
        output = np.asarray(output, dtype=np.float64)
        gb = self.baseline_gb[rows] * np.exp(output) if self.hybrid else np.expm1(output)
        return np.maximum(gb, MIN_GB)

    def input_ranges(self, rows) -> dict:
        """Range of each count and continuous feature over ``rows`` (a hybrid clips its inputs to it).

        Parameters
        ----------
        rows : array_like
            The training rows.

        Returns
        -------
        dict
            ``{"features": names, "min": array, "max": array}``.
        """
        names = self.data.names
        features = continuous_features(self.data.feature_set)
        block = self.data.X[np.asarray(rows)][:, [names.index(n) for n in features]]
        return {"features": features, "min": block.min(axis=0), "max": block.max(axis=0)}

    def clipped(self, ranges: dict | None) -> np.ndarray:
        """The feature matrix as the network sees it: a hybrid's ranged features clipped.

        Parameters
        ----------
        ranges : dict or None
            As `input_ranges` gives them; None for no clipping.

        Returns
        -------
        numpy.ndarray
            The feature matrix.
        """
        if ranges is None:
            return self.data.X
        X = self.data.X.copy()
        columns = [self.data.names.index(n) for n in ranges["features"]]
        X[:, columns] = np.clip(X[:, columns], ranges["min"], ranges["max"])
        return X

    # -- layout --------------------------------------------------------------------
    def _dirs(self, fold: int) -> dict:
        dirs = {"data": self.out / "data", "models": self.out / "models" / str(fold),
                "results": self.out / "results" / str(fold), "summary": self.out / "summary"}
        for d in dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        return dirs

    def hyperparameters(self) -> dict:
        """The run's hyperparameters, as recorded in its outputs.

        Returns
        -------
        dict
            Exposure mode, pipeline, feature set, layers, activation, epochs, batch size, learning
            rate, normalisation, folds, early stopping and the others.
        """
        return {"exp_mode": self.exp_mode, "pipeline": self.data.pipeline, "feature_set": self.data.feature_set,
                "layers": list(self.layers),
                "activation": self.activation, "epochs": self.epochs, "batch_size": self.batch_size,
                "learning_rate": self.learning_rate, "lr_decay": "exponential, 0.96 per 1000 steps",
                "norm": int(self.norm), "cross_val": self.cross_val,
                "early_stopping": self.early_stopping or "none", "patience": self.patience,
                "threshold_gb": self.threshold, "seed": self.seed, "target": self.target,
                "output_transform": HYBRID_TRANSFORM if self.hybrid else OUTPUT_TRANSFORM,
                **({"baseline": f"{self.baseline.name} version {self.baseline.version}"} if self.hybrid else {}),
                "layer_kwargs": str(self.layer_kwargs),
                "training_data": self.data.label, "training_rows": int(len(self.data.y)),
                "training_data_sha256": self.data.sha256}

    # -- one fold --------------------------------------------------------------------
    def _callbacks(self, checkpoint: Path, validating: bool) -> list:
        import keras

        # without validation rows (tiny folds) the training loss is all there is to watch
        prefix = "val_" if validating else ""
        callbacks = [_best_checkpoint(checkpoint, f"{prefix}loss")]
        if self.early_stopping:
            monitor = prefix + self.early_stopping.removeprefix("val_")
            callbacks.append(keras.callbacks.EarlyStopping(monitor=monitor, patience=self.patience,
                                                           restore_best_weights=True))
        return callbacks

    def _train_fold(self, fold: Fold, bar, n_folds: int, bins):
        import keras

        quiet_tensorflow(self.verbose)
        keras.utils.set_random_seed(self.seed + fold.number)
        data, y = self.data, self.data.y
        dirs = self._dirs(fold.number)
        split = np.full(len(y), "", dtype=object)
        split[fold.train], split[fold.test] = "train", "test"
        with atomic_write(dirs["data"] / f"{self.exp_mode}-tts_{fold.number}.csv", newline="") as handle:
            data.table.assign(split=split).iloc[np.sort(np.concatenate([fold.train, fold.test]))].to_csv(handle)
        ranges = self.input_ranges(fold.train) if self.hybrid else None
        X = self.clipped(ranges)
        normalizer, preprocessing = fit_normalizer(X[fold.train], data.feature_set, self.norm)
        Xn = normalizer(X)
        everything = np.arange(len(y))
        target = self.encode_target(y, everything)
        fit_rows, val_rows = validation_rows(fold.train, self.seed + fold.number)
        model = build_mlp(Xn.shape[1], self.layers, self.activation, self.learning_rate, self.layer_kwargs,
                          name=self.model_name, output_initializer="zeros" if self.hybrid else "glorot_uniform")
        test_loss, epoch_bar = _epoch_callbacks(bar, Xn[fold.test], target[fold.test],
                                                f"fold {fold.number + 1}/{n_folds}")
        callbacks = [epoch_bar, test_loss, *self._callbacks(dirs["models"] / f"{self.model_name}.ckpt.keras",
                                                            validating=val_rows.size > 0)]
        validation = (Xn[val_rows], target[val_rows]) if val_rows.size else None
        history = model.fit(Xn[fit_rows], target[fit_rows], validation_data=validation, epochs=self.epochs,
                            batch_size=self.batch_size, verbose=2 if self.verbose else 0, callbacks=callbacks,
                            shuffle=True)
        history = {**history.history, **test_loss.history}
        with atomic_path(dirs["models"] / f"{self.model_name}.keras") as saved:
            model.save(saved)
        # held-out estimates as the exported bundle gives them: inverse transform, then its floor
        predicted = self.decode_output(model.predict(Xn[fold.test], verbose=0)[:, 0], fold.test)
        results = dirs["results"]
        arrays = {
            "history.npz": {k: np.asarray(v) for k, v in history.items()},
            "loss.npz": {"train": model.evaluate(Xn[fold.train], target[fold.train], verbose=0),
                         "test": model.evaluate(Xn[fold.test], target[fold.test], verbose=0),
                         "metrics": np.array(["mse", "rmse"])},
            "predictions.npy": predicted, "residuals.npy": predicted - y[fold.test], "test_idx.npy": fold.test,
        }
        for name, value in arrays.items():
            with atomic_write(results / name, "wb") as handle:
                if name.endswith(".npz"):
                    np.savez(handle, **value)
                else:
                    np.save(handle, value)
        plots = plot_fold(results, fold.number, y[fold.test], predicted, history, bins, self.target_label,
                          baseline=None if self.baseline_gb is None else self.baseline_gb[fold.test],
                          penalized=bool(model.losses))
        return model, preprocessing, predicted, plots, len(history["loss"]), ranges

    # -- everything ------------------------------------------------------------------
    def main(self, stratify: bool = True) -> Path:
        """Train every fold, calibrate the upper bound out of fold, export the bundles and write the reports.

        Parameters
        ----------
        stratify : bool, optional
            Keep a product at or above ``threshold`` GB in every test split.

        Returns
        -------
        pathlib.Path
            The final bundle (the fold with the lowest held-out RMSE).
        """
        from tqdm import tqdm

        folds = make_folds(self.data.y, self.cross_val, stratify=stratify, threshold=self.threshold,
                           seed=self.seed, fixed_test=self.data.test_split)
        y = self.data.y
        self.bins = memory_bins(self.threshold, y)
        out_of_fold = np.full(len(y), np.nan)
        trained, plots = [], []
        # one bar for the whole run (folds x epochs); a log file gets a line now and then, not one per epoch
        interactive = sys.stderr.isatty()
        with tqdm(total=len(folds) * self.epochs, desc=f"training {self.model_name}", unit="epoch",
                  mininterval=0.5 if interactive else 60, dynamic_ncols=True) as bar:
            for position, fold in enumerate(folds):
                model, preprocessing, predicted, fold_plots, epochs, ranges = self._train_fold(fold, bar, len(folds),
                                                                                               self.bins)
                bar.update((position + 1) * self.epochs - bar.n)  # epochs early stopping skipped
                # each row's out-of-fold estimate comes from the one fold it is home to
                out_of_fold[fold.home] = predicted[np.isin(fold.test, fold.home)]
                trained.append((model, preprocessing, predicted, ranges))
                plots.append((fold.number, fold_plots))
                self.fold_metrics.append({"fold": fold.number, "n_train": int(len(fold.train)),
                                          "n_test": int(len(fold.test)), "epochs": epochs,
                                          **held_out_metrics(y[fold.test], predicted)})
        held = np.isfinite(out_of_fold)
        bound = UpperBound.from_measurements(
            y[held], out_of_fold[held],
            source=f"out-of-fold predictions of {int(held.sum())} rows of {self.data.label}")
        # the exported bound is calibrated on every out-of-fold row; each row is judged by the
        # bound calibrated without it, so the reported exceedance is not in-sample
        factor = np.full(len(y), np.nan)
        factor[held] = UpperBound.leave_one_out_factors(y[held], out_of_fold[held], UPPER_QUANTILE)
        for row, fold, (_, _, predicted, _) in zip(self.fold_metrics, folds, trained):
            row["upper_exceeded_fraction"] = float(np.mean(y[fold.test] > predicted * factor[fold.test]))
        overall = held_out_metrics(y[held], out_of_fold[held], out_of_fold[held] * factor[held])
        self.comparison = self._compare_with_baseline(held, out_of_fold, factor, overall)
        best = min(range(len(folds)), key=lambda i: self.fold_metrics[i]["rmse_gb"])
        self._export(folds, trained, best, bound, overall)
        self._write_summary(plots, overall, best)
        return self.bundle_path

    def _compare_with_baseline(self, held, out_of_fold, factor, overall) -> dict:
        """This model's out-of-fold figures beside the installed physics baseline's on the same rows.

        The baseline's coefficients and bound were fitted by ``fit-baseline`` on the measured
        corpus' train split: on those rows its figures are in-sample. When the data has the
        corpus' fixed test split, the comparison is also given on it alone.
        """
        if self.baseline is None:  # rows of another feature set: the baseline cannot estimate them
            return {}
        y, X = self.data.y, self.data.X
        baseline_gb, baseline_upper = self.baseline.estimate(X, UPPER_QUANTILE)
        label = f"{self.baseline.name} version {self.baseline.version}"
        groups = {"out-of-fold rows": held}
        if self.data.test_split is not None and (held & ~self.data.test_split).any():
            groups["corpus test split"] = held & self.data.test_split  # with one fixed split, the same rows
        comparison = {}
        for name, rows in groups.items():
            if not rows.any():
                continue
            model = overall if name == "out-of-fold rows" else held_out_metrics(
                y[rows], out_of_fold[rows], out_of_fold[rows] * factor[rows])
            comparison[name] = {self.model_name: model,
                                label: held_out_metrics(y[rows], baseline_gb[rows], baseline_upper[rows])}
        return comparison

    def _export(self, folds, trained, best, bound, overall) -> None:
        provenance = training_provenance(self.data)
        if self.hybrid:
            provenance["notes"] += (f"; hybrid: learns log(measured / {self.baseline.name} version "
                                    f"{self.baseline.version}), inputs clipped to the fold's training ranges")
        for fold, (model, preprocessing, _, ranges) in zip(folds, trained):
            path = export_bundle(
                self.out / "models" / str(fold.number) / f"{self.model_name}.asdf", model,
                pipeline=self.data.pipeline, preprocessing=preprocessing,
                output_transform=HYBRID_TRANSFORM if self.hybrid else OUTPUT_TRANSFORM,
                upper_bound=bound, name=self.model_name, version=self.model_version, provenance=provenance,
                metrics={"held_out": overall, "fold": dict(self.fold_metrics[fold.number])},
                kind="hybrid" if self.hybrid else "mlp", baseline=self.baseline if self.hybrid else None,
                input_ranges=ranges, feature_set=self.data.feature_set,
            )
            if fold.number == folds[best].number:
                self.bundle_path = self.out / "models" / f"{self.model_name}.asdf"
                with open(path, "rb") as exported, atomic_write(self.bundle_path, "wb") as copy:
                    shutil.copyfileobj(exported, copy)
        self._architecture_diagram(trained[best][0])

    def _architecture_diagram(self, model) -> None:
        target = self.out / "models" / f"{self.model_name}.png"
        try:
            import keras

            with atomic_path(target) as diagram:
                keras.utils.plot_model(model, to_file=str(diagram), show_shapes=True)
                if not diagram.stat().st_size:  # keras printed why and wrote nothing
                    raise OSError("no diagram")
        except Exception:  # pydot or graphviz absent (keras raises ImportError or prints and returns)
            pass
        if not target.is_file():
            lines = []
            model.summary(print_fn=lambda line, **_: lines.append(line))
            with atomic_write(self.out / "models" / f"{self.model_name}.txt") as handle:
                handle.write("\n".join(lines) + "\n")

    def _write_summary(self, plots, overall, best) -> None:
        import pandas as pd

        summary = self.out / "summary"
        summary.mkdir(parents=True, exist_ok=True)
        with atomic_write(summary / f"{self.exp_mode}-cv-metrics.csv", newline="") as handle:
            pd.DataFrame(self.fold_metrics).to_csv(handle, index=False)
        with atomic_write(summary / f"{self.exp_mode}-cv-scores.json") as handle:
            json.dump({"folds": self.fold_metrics, "out_of_fold": overall, "final_fold": best,
                       "bundle": str(self.bundle_path), "physics_baseline_comparison": self.comparison,
                       "memory_bins_gb": [float(e) for e in self.bins]}, handle, indent=2)
        hyper = self.hyperparameters()
        with atomic_write(summary / f"{self.exp_mode}-hyperparameters.txt") as handle:
            handle.write("\n".join(f"{k}: {v}" for k, v in hyper.items()) + "\n")
        table = metrics_table(self.fold_metrics, overall)
        print(table)
        if self.comparison:
            print(comparison_table(self.comparison))
        title = f"{self.model_name} ({self.exp_mode}, target {self.target_label})"
        write_summary_page(summary / "index.md", title, table, plots, hyper, bundle=self.bundle_path,
                           final_fold=best, comparison=self.comparison)
        page = write_summary_html(summary / "index.html", title, self.fold_metrics, overall, plots, hyper,
                                  comparison=self.comparison, bundle=self.bundle_path, final_fold=best, bins=self.bins)
        print(f"summary: {page}")
