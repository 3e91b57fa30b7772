"""JwstCalTrain: cross-validated Keras training, reports and bundle export."""

from __future__ import annotations

import datetime
import json
import logging
import shutil
import time
from pathlib import Path

import numpy as np

from jwst_memest.model.bundle import MIN_GB
from jwst_memest.model.metrics import held_out_metrics
from jwst_memest.model.upper import UpperBound
from jwst_memest.training.architecture import DEFAULT_LAYERS, build_mlp, default_layer_kwargs
from jwst_memest.training.crossval import Fold, make_folds, validation_rows
from jwst_memest.training.datasets import load_training_data
from jwst_memest.training.export import export_bundle, training_provenance
from jwst_memest.training.preprocess import fit_normalizer
from jwst_memest.training.report import metrics_table, plot_fold, write_summary_page

log = logging.getLogger("jwst_memest.training")

__all__ = ["JwstCalTrain", "OUTPUT_TRANSFORM", "UPPER_QUANTILE"]

# Memory spans three decades: the network learns log1p(GB), and the bundle inverts it.
OUTPUT_TRANSFORM = "log1p"
# The bound quoted in the metrics (share of measured peaks above it).
UPPER_QUANTILE = 0.95
EARLY_STOPPING_MONITORS = ("val_rmse", "val_loss")


def _epoch_callbacks(bar, X_test, y_test):
    """Keras callbacks: advance a tqdm bar per epoch, and record the test loss without training on it."""
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
            bar.update(1)
            bar.set_postfix(loss=f"{logs.get('loss', float('nan')):.4f}",
                            val=f"{logs.get('val_loss', float('nan')):.4f}")

    return TestLoss(), EpochBar()


class JwstCalTrain:
    """Train the memory model for one exposure mode, with optional k-fold cross-validation.

    Output layout under ``<out>/<exp_mode>/``: data/, models/, results/, summary/ (see docs/training.md).
    ``main`` returns the path of the final bundle.
    """

    def __init__(self, training_data=None, out=None, exp_mode="image", norm=1, cross_val=0, early_stopping=None,
                 threshold=50, layer_kwargs=None, layers=None, activation="relu", epochs=200, batch_size=32,
                 learning_rate=1e-4, seed=42, model_name=None, model_version=None, patience=15):
        if early_stopping is not None and early_stopping not in EARLY_STOPPING_MONITORS:
            raise ValueError(f"early_stopping must be one of {', '.join(EARLY_STOPPING_MONITORS)}, got {early_stopping!r}")
        self.cross_val = int(cross_val or 0)
        self.data = load_training_data(training_data, exp_mode, folds=self.cross_val)
        self.exp_mode, self.norm = exp_mode, bool(norm)
        self.early_stopping, self.threshold = early_stopping, float(threshold)
        self.layer_kwargs = default_layer_kwargs() if layer_kwargs is None else layer_kwargs
        self.layers = tuple(int(n) for n in layers) if layers else DEFAULT_LAYERS[exp_mode]
        self.activation, self.epochs, self.batch_size = activation, int(epochs), int(batch_size)
        self.learning_rate, self.seed, self.patience = float(learning_rate), int(seed), int(patience)
        self.model_name = model_name or f"{self.data.pipeline}_mlp"
        self.model_version = model_version or datetime.date.today().isoformat()
        stamp = f"{datetime.date.today().isoformat()}_{int(time.time())}"
        self.root = Path(out) if out else Path(stamp)
        self.out = self.root / exp_mode
        self.fold_metrics: list[dict] = []
        self.bundle_path: Path | None = None

    # -- layout --------------------------------------------------------------------
    def _dirs(self, fold: int) -> dict:
        dirs = {"data": self.out / "data", "models": self.out / "models" / str(fold),
                "results": self.out / "results" / str(fold), "summary": self.out / "summary"}
        for d in dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        return dirs

    def hyperparameters(self) -> dict:
        return {"exp_mode": self.exp_mode, "pipeline": self.data.pipeline, "layers": list(self.layers),
                "activation": self.activation, "epochs": self.epochs, "batch_size": self.batch_size,
                "learning_rate": self.learning_rate, "lr_decay": "exponential, 0.96 per 1000 steps",
                "norm": int(self.norm), "cross_val": self.cross_val,
                "early_stopping": self.early_stopping or "none", "patience": self.patience,
                "threshold_gb": self.threshold, "seed": self.seed, "output_transform": OUTPUT_TRANSFORM,
                "layer_kwargs": str(self.layer_kwargs),
                "training_data": self.data.label, "training_rows": int(len(self.data.y)),
                "training_data_sha256": self.data.sha256}

    # -- one fold --------------------------------------------------------------------
    def _callbacks(self, checkpoint: Path, validating: bool) -> list:
        import keras

        # without validation rows (tiny folds) the training loss is all there is to watch
        prefix = "val_" if validating else ""
        callbacks = [keras.callbacks.ModelCheckpoint(checkpoint, monitor=f"{prefix}loss", save_best_only=True)]
        if self.early_stopping:
            monitor = prefix + self.early_stopping.removeprefix("val_")
            callbacks.append(keras.callbacks.EarlyStopping(monitor=monitor, patience=self.patience,
                                                           restore_best_weights=True))
        return callbacks

    def _train_fold(self, fold: Fold, bar):
        import keras

        keras.utils.set_random_seed(self.seed + fold.number)
        data, y = self.data, self.data.y
        dirs = self._dirs(fold.number)
        split = np.full(len(y), "", dtype=object)
        split[fold.train], split[fold.test] = "train", "test"
        data.table.assign(split=split).iloc[np.sort(np.concatenate([fold.train, fold.test]))].to_csv(
            dirs["data"] / f"{self.exp_mode}-tts_{fold.number}.csv")
        normalizer, preprocessing = fit_normalizer(data.X[fold.train], data.pipeline, self.norm)
        Xn = normalizer(data.X)
        target = np.log1p(y)
        fit_rows, val_rows = validation_rows(fold.train, self.seed + fold.number)
        model = build_mlp(Xn.shape[1], self.layers, self.activation, self.learning_rate, self.layer_kwargs,
                          name=self.model_name)
        test_loss, epoch_bar = _epoch_callbacks(bar, Xn[fold.test], target[fold.test])
        callbacks = [epoch_bar, test_loss, *self._callbacks(dirs["models"] / f"{self.model_name}.ckpt.keras",
                                                            validating=val_rows.size > 0)]
        validation = (Xn[val_rows], target[val_rows]) if val_rows.size else None
        history = model.fit(Xn[fit_rows], target[fit_rows], validation_data=validation, epochs=self.epochs,
                            batch_size=self.batch_size, verbose=0, callbacks=callbacks, shuffle=True)
        history = {**history.history, **test_loss.history}
        model.save(dirs["models"] / f"{self.model_name}.keras")
        # held-out estimates as the exported bundle gives them: inverse transform, then its floor
        predicted = np.maximum(np.expm1(model.predict(Xn[fold.test], verbose=0)[:, 0].astype(np.float64)), MIN_GB)
        results = dirs["results"]
        np.savez(results / "history.npz", **{k: np.asarray(v) for k, v in history.items()})
        np.savez(results / "loss.npz", train=model.evaluate(Xn[fold.train], target[fold.train], verbose=0),
                 test=model.evaluate(Xn[fold.test], target[fold.test], verbose=0), metrics=np.array(["mse", "rmse"]))
        np.save(results / "predictions.npy", predicted)
        np.save(results / "residuals.npy", predicted - y[fold.test])
        np.save(results / "test_idx.npy", fold.test)
        plots = plot_fold(results, fold.number, y[fold.test], predicted, history, self.threshold)
        return model, preprocessing, predicted, plots, len(history["loss"])

    # -- everything ------------------------------------------------------------------
    def main(self, stratify: bool = True) -> Path:
        from tqdm import tqdm

        folds = make_folds(self.data.y, self.cross_val, stratify=stratify, threshold=self.threshold,
                           seed=self.seed, fixed_test=self.data.test_split)
        y = self.data.y
        out_of_fold = np.full(len(y), np.nan)
        trained, plots = [], []
        for fold in tqdm(folds, desc=f"{self.exp_mode} folds", unit="fold", position=0):
            with tqdm(total=self.epochs, desc=f"fold {fold.number}", unit="epoch", position=1, leave=False) as bar:
                model, preprocessing, predicted, fold_plots, epochs = self._train_fold(fold, bar)
            # each row's out-of-fold estimate comes from the one fold it is home to
            out_of_fold[fold.home] = predicted[np.isin(fold.test, fold.home)]
            trained.append((model, preprocessing, predicted))
            plots += fold_plots
            self.fold_metrics.append({"fold": fold.number, "n_train": int(len(fold.train)), "n_test": int(len(fold.test)),
                                      "epochs": epochs, **held_out_metrics(y[fold.test], predicted)})
        held = np.isfinite(out_of_fold)
        bound = UpperBound.from_measurements(
            y[held], out_of_fold[held],
            source=f"out-of-fold predictions of {int(held.sum())} rows of {self.data.label}")
        # the exported bound is calibrated on every out-of-fold row; each row is judged by the
        # bound calibrated without it, so the reported exceedance is not in-sample
        factor = np.full(len(y), np.nan)
        factor[held] = UpperBound.leave_one_out_factors(y[held], out_of_fold[held], UPPER_QUANTILE)
        for row, fold, (_, _, predicted) in zip(self.fold_metrics, folds, trained):
            row["upper_exceeded_fraction"] = float(np.mean(y[fold.test] > predicted * factor[fold.test]))
        overall = held_out_metrics(y[held], out_of_fold[held], out_of_fold[held] * factor[held])
        best = min(range(len(folds)), key=lambda i: self.fold_metrics[i]["rmse_gb"])
        self._export(folds, trained, best, bound, overall)
        self._write_summary(plots, overall, best)
        return self.bundle_path

    def _export(self, folds, trained, best, bound, overall) -> None:
        provenance = training_provenance(self.data)
        for fold, (model, preprocessing, _) in zip(folds, trained):
            path = export_bundle(
                self.out / "models" / str(fold.number) / f"{self.model_name}.asdf", model,
                pipeline=self.data.pipeline, preprocessing=preprocessing, output_transform=OUTPUT_TRANSFORM,
                upper_bound=bound, name=self.model_name, version=self.model_version, provenance=provenance,
                metrics={"held_out": overall, "fold": dict(self.fold_metrics[fold.number])},
            )
            if fold.number == folds[best].number:
                self.bundle_path = self.out / "models" / f"{self.model_name}.asdf"
                shutil.copyfile(path, self.bundle_path)
        self._architecture_diagram(trained[best][0])

    def _architecture_diagram(self, model) -> None:
        target = self.out / "models" / f"{self.model_name}.png"
        try:
            import keras

            keras.utils.plot_model(model, to_file=str(target), show_shapes=True)
        except Exception:  # pydot or graphviz absent (keras raises ImportError or prints and returns)
            pass
        if not target.is_file():
            lines = []
            model.summary(print_fn=lambda line, **_: lines.append(line))
            (self.out / "models" / f"{self.model_name}.txt").write_text("\n".join(lines) + "\n")

    def _write_summary(self, plots, overall, best) -> None:
        import pandas as pd

        summary = self.out / "summary"
        summary.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(self.fold_metrics).to_csv(summary / f"{self.exp_mode}-cv-metrics.csv", index=False)
        (summary / f"{self.exp_mode}-cv-scores.json").write_text(json.dumps(
            {"folds": self.fold_metrics, "out_of_fold": overall, "final_fold": best,
             "bundle": str(self.bundle_path)}, indent=2))
        hyper = self.hyperparameters()
        (summary / f"{self.exp_mode}-hyperparameters.txt").write_text(
            "\n".join(f"{k}: {v}" for k, v in hyper.items()) + "\n")
        table = metrics_table(self.fold_metrics, overall)
        print(table)
        write_summary_page(summary / "index.md", f"{self.model_name} ({self.exp_mode})", table, plots, hyper,
                           bundle=self.bundle_path, final_fold=best)
