"""JwstCalTrain: cross-validated Keras training, reports and bundle export."""

from __future__ import annotations

import datetime
import json
import logging
import shutil
import time
from pathlib import Path

import numpy as np

from jwst_memest.model.metrics import held_out_metrics
from jwst_memest.model.upper import UpperBound
from jwst_memest.training.architecture import DEFAULT_LAYERS, build_mlp
from jwst_memest.training.datasets import load_training_data
from jwst_memest.training.export import export_bundle
from jwst_memest.training.preprocess import fit_normalizer
from jwst_memest.training.report import metrics_table, plot_fold, write_summary_page

log = logging.getLogger("jwst_memest.training")

__all__ = ["JwstCalTrain", "OUTPUT_TRANSFORM"]

# Memory spans three decades: the network learns log1p(GB), and the bundle inverts it.
OUTPUT_TRANSFORM = "log1p"


def _splits(y: np.ndarray, k: int, stratify: bool, threshold: float, seed: int, fixed_test=None):
    """(train, test) index pairs: k folds, or one 80/20 split (the corpus' fixed split when it has one).

    With ``stratify``, products at or above ``threshold`` GB are spread so that every test
    split holds at least one (when the data has enough of them).
    """
    from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

    index = np.arange(len(y))
    large = y >= threshold
    if k <= 1:
        if fixed_test is not None and fixed_test.any() and (~fixed_test).any():
            return [(index[~fixed_test], index[fixed_test])]
        strata = large if stratify and large.sum() >= 2 else None
        train, test = train_test_split(index, test_size=0.2, random_state=seed, stratify=strata)
        return [(train, test)]
    if stratify and large.sum() >= k:
        return list(StratifiedKFold(k, shuffle=True, random_state=seed).split(index, large))
    if stratify and large.any():
        log.warning("only %d product(s) at or above %g GB: cannot put one in each of %d folds", large.sum(), threshold, k)
    return list(KFold(k, shuffle=True, random_state=seed).split(index))


class _EpochBar:
    """A Keras callback advancing a tqdm bar per epoch."""

    def __new__(cls, bar):
        import keras

        class Callback(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                bar.update(1)
                bar.set_postfix(loss=f"{(logs or {}).get('loss', float('nan')):.4f}",
                                val=f"{(logs or {}).get('val_loss', float('nan')):.4f}")

        return Callback()


class JwstCalTrain:
    """Train the memory model for one exposure mode, with optional k-fold cross-validation.

    Output layout under ``<out>/<exp_mode>/``: data/, models/, results/, summary/ (see docs/training.md).
    """

    def __init__(self, training_data=None, out=None, exp_mode="image", norm=1, cross_val=0, early_stopping=None,
                 threshold=50, layer_kwargs=None, layers=None, activation="relu", epochs=200, batch_size=32,
                 learning_rate=1e-4, seed=42, model_name=None, model_version=None, patience=15):
        self.data = load_training_data(training_data, exp_mode, min_rows=max(2, cross_val or 2))
        if cross_val and cross_val > 1 and len(self.data.y) < 2 * cross_val:
            raise ValueError(f"{self.data.path}: {len(self.data.y)} rows are too few for {cross_val}-fold cross-validation")
        self.exp_mode, self.norm, self.cross_val = exp_mode, bool(norm), int(cross_val or 0)
        self.early_stopping, self.threshold = early_stopping, float(threshold)
        self.layer_kwargs = layer_kwargs
        self.layers = tuple(layers) if layers else DEFAULT_LAYERS[exp_mode]
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

    def _hyperparameters(self) -> dict:
        return {"exp_mode": self.exp_mode, "pipeline": self.data.pipeline, "layers": list(self.layers),
                "activation": self.activation, "epochs": self.epochs, "batch_size": self.batch_size,
                "learning_rate": self.learning_rate, "lr_decay": "exponential, 0.96 per 1000 steps",
                "norm": int(self.norm), "cross_val": self.cross_val,
                "early_stopping": self.early_stopping or "none", "patience": self.patience,
                "threshold_gb": self.threshold, "seed": self.seed, "output_transform": OUTPUT_TRANSFORM,
                "layer_kwargs": str(self.layer_kwargs if self.layer_kwargs is not None else {1: {"kernel_regularizer": "l2"}}),
                "training_rows": int(len(self.data.y)), "training_data_sha256": self.data.sha256}

    # -- one fold --------------------------------------------------------------------
    def _train_fold(self, fold, train, test, bar):
        import keras

        keras.utils.set_random_seed(self.seed + fold)
        data, y = self.data, self.data.y
        dirs = self._dirs(fold)
        split = np.where(np.isin(np.arange(len(y)), test), "test", "train")
        data.table.assign(split=split).to_csv(dirs["data"] / f"{self.exp_mode}-tts_{fold}.csv")
        normalizer, preprocessing = fit_normalizer(data.X[train], data.pipeline, self.norm)
        Xn = normalizer(data.X)
        target = np.log1p(y)
        model = build_mlp(Xn.shape[1], self.layers, self.activation, self.learning_rate, self.layer_kwargs,
                          name=self.model_name)
        checkpoint = dirs["models"] / f"{self.model_name}.ckpt.keras"
        callbacks = [_EpochBar(bar), keras.callbacks.ModelCheckpoint(checkpoint, monitor="val_loss", save_best_only=True)]
        if self.early_stopping:
            monitor = {"val_rmse": "val_rmse", "val_loss": "val_loss"}[self.early_stopping]
            callbacks.append(keras.callbacks.EarlyStopping(monitor=monitor, patience=self.patience,
                                                           restore_best_weights=True))
        history = model.fit(Xn[train], target[train], validation_data=(Xn[test], target[test]), epochs=self.epochs,
                            batch_size=self.batch_size, verbose=0, callbacks=callbacks, shuffle=True)
        bar.update(self.epochs - len(history.history["loss"]))  # early-stopped epochs
        model.save(dirs["models"] / f"{self.model_name}.keras")
        predicted = np.expm1(model.predict(Xn[test], verbose=0)[:, 0])
        np.savez(dirs["results"] / "history.npz", **{k: np.asarray(v) for k, v in history.history.items()})
        np.savez(dirs["results"] / "loss.npz", train=model.evaluate(Xn[train], target[train], verbose=0),
                 test=model.evaluate(Xn[test], target[test], verbose=0))
        np.save(dirs["results"] / "predictions.npy", predicted)
        np.save(dirs["results"] / "residuals.npy", predicted - y[test])
        np.save(dirs["results"] / "test_idx.npy", test)
        plots = plot_fold(dirs["results"], fold, y[test], predicted, history.history, self.threshold)
        return model, preprocessing, predicted, plots, len(history.history["loss"])

    # -- everything ------------------------------------------------------------------
    def main(self, stratify: bool = True) -> Path:
        from tqdm import tqdm

        splits = _splits(self.data.y, self.cross_val, stratify, self.threshold, self.seed, self.data.test_split)
        out_of_fold = np.full(len(self.data.y), np.nan)
        folds, plots = [], []
        with tqdm(total=len(splits) * self.epochs, desc=f"training {self.exp_mode} ({len(splits)} fold(s))",
                  unit="epoch") as bar:
            for fold, (train, test) in enumerate(splits):
                model, preprocessing, predicted, fold_plots, epochs = self._train_fold(fold, train, test, bar)
                out_of_fold[test] = predicted
                folds.append((fold, model, preprocessing, test, predicted))
                plots += fold_plots
                self.fold_metrics.append({"fold": fold, "n_test": int(len(test)), "epochs": epochs,
                                          **held_out_metrics(self.data.y[test], predicted)})
        held = np.isfinite(out_of_fold)
        bound = UpperBound.from_measurements(self.data.y[held], out_of_fold[held],
                                             source=f"out-of-fold predictions, {held.sum()} rows of {self.data.path.name}")
        for row, (_, _, _, test, predicted) in zip(self.fold_metrics, folds):
            row["upper_exceeded_fraction"] = float(np.mean(self.data.y[test] > predicted * bound.factor(0.95)))
        overall = held_out_metrics(self.data.y[held], out_of_fold[held], out_of_fold[held] * bound.factor(0.95))
        best = min(range(len(folds)), key=lambda i: self.fold_metrics[i]["rmse_gb"])
        self._export(folds, best, bound, overall)
        self._write_summary(plots, overall)
        return self.bundle_path

    def _provenance(self) -> dict:
        import jwst

        table = self.data.table
        label_version = str(table["jwst_version"].iloc[0]) if "jwst_version" in table.columns else jwst.__version__
        return {"training_data_sha256": self.data.sha256, "training_rows": int(len(self.data.y)),
                "jwst_version": label_version, "notes": f"trained by jwst_memest.training from {self.data.path.name}"}

    def _export(self, folds, best, bound, overall) -> None:
        for fold, model, preprocessing, _, _ in folds:
            path = export_bundle(
                self.out / "models" / str(fold) / f"{self.model_name}.asdf", model, pipeline=self.data.pipeline,
                preprocessing=preprocessing, output_transform=OUTPUT_TRANSFORM, upper_bound=bound,
                name=self.model_name, version=self.model_version, provenance=self._provenance(),
                metrics={"held_out": overall, "fold": {k: v for k, v in self.fold_metrics[fold].items()}},
            )
            if fold == best:
                self.bundle_path = self.out / "models" / f"{self.model_name}.asdf"
                shutil.copyfile(path, self.bundle_path)
        self._architecture_diagram(folds[best][1])

    def _architecture_diagram(self, model) -> None:
        target = self.out / "models" / f"{self.model_name}.png"
        try:
            import keras

            keras.utils.plot_model(model, to_file=str(target), show_shapes=True)
        except Exception:  # pydot/graphviz absent: a text summary instead
            lines = []
            model.summary(print_fn=lambda line, **_: lines.append(line))
            (self.out / "models" / f"{self.model_name}.txt").write_text("\n".join(lines) + "\n")

    def _write_summary(self, plots, overall) -> None:
        import pandas as pd

        summary = self.out / "summary"
        summary.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(self.fold_metrics).to_csv(summary / f"{self.exp_mode}-cv-metrics.csv", index=False)
        (summary / f"{self.exp_mode}-cv-scores.json").write_text(
            json.dumps({"folds": self.fold_metrics, "out_of_fold": overall}, indent=2))
        hyper = self._hyperparameters()
        (summary / f"{self.exp_mode}-hyperparameters.txt").write_text("\n".join(f"{k}: {v}" for k, v in hyper.items()) + "\n")
        table = metrics_table(self.fold_metrics)
        print(table)
        write_summary_page(summary / "index.md", f"{self.model_name} ({self.exp_mode})", table, plots, hyper)
