"""A small training job that logs to MLflow: params, metrics, a plot, nested files, a model.

Run it against any tracking server whose artifacts live in Cloudsmith::

    MLFLOW_TRACKING_URI=http://127.0.0.1:5000 python examples/train.py

It needs nothing beyond mlflow: the "model" is a least-squares line fitted in pure
Python and wrapped as an ``mlflow.pyfunc`` model; the plot is written as SVG.
"""

from __future__ import annotations

import json
import math
import random
import tempfile
from pathlib import Path

import mlflow
import mlflow.pyfunc


class LinearModel(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
    """y = slope * x + intercept, predicting column ``x`` of a DataFrame or a list."""

    def __init__(self, slope: float, intercept: float) -> None:
        self.slope = slope
        self.intercept = intercept

    # No type hints here: MLflow would try to derive a schema from them.
    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        values = model_input["x"] if hasattr(model_input, "columns") else model_input
        return [self.slope * float(x) + self.intercept for x in values]


def fit(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Ordinary least squares for one feature."""
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    cov = sum((x - mean_x) * (y - mean_y) for x, y in points)
    var = sum((x - mean_x) ** 2 for x, _ in points)
    slope = cov / var
    return slope, mean_y - slope * mean_x


def svg_plot(losses: list[float]) -> str:
    """A line chart of the loss curve, as a standalone SVG document."""
    width, height, pad = 480, 240, 30
    top = max(losses) or 1.0
    coords = " ".join(
        f"{pad + i * (width - 2 * pad) / (len(losses) - 1):.1f},"
        f"{height - pad - (loss / top) * (height - 2 * pad):.1f}"
        for i, loss in enumerate(losses)
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">'
        f'<rect width="100%" height="100%" fill="white"/>'
        f'<text x="{pad}" y="20" font-family="sans-serif" font-size="14">training loss</text>'
        f'<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="{coords}"/>'
        "</svg>"
    )


def main() -> str:
    """Train, log everything, and return the run id."""
    rng = random.Random(42)
    points = [(x / 100, 3.0 * x / 100 + 1.5 + rng.gauss(0, 0.1)) for x in range(200)]
    mlflow.set_experiment("cloudsmith-demo")
    with mlflow.start_run(run_name="linear-fit") as run:
        learning_rate, epochs = 0.3, 40
        mlflow.log_params(
            {"learning_rate": learning_rate, "epochs": epochs, "samples": len(points)}
        )
        slope, intercept, losses = 0.0, 0.0, []
        for epoch in range(epochs):
            grad_s = sum(2 * (slope * x + intercept - y) * x for x, y in points) / len(points)
            grad_i = sum(2 * (slope * x + intercept - y) for x, y in points) / len(points)
            slope -= learning_rate * grad_s
            intercept -= learning_rate * grad_i
            loss = sum((slope * x + intercept - y) ** 2 for x, y in points) / len(points)
            losses.append(loss)
            mlflow.log_metric("loss", loss, step=epoch)
        exact_slope, exact_intercept = fit(points)
        mlflow.log_metrics({"final_loss": losses[-1], "rmse": math.sqrt(losses[-1])})

        with tempfile.TemporaryDirectory() as scratch:
            root = Path(scratch)
            (root / "plots").mkdir()
            (root / "plots" / "loss curve.svg").write_text(svg_plot(losses), encoding="utf-8")
            (root / "data" / "splits").mkdir(parents=True)
            (root / "data" / "splits" / "train.csv").write_text(
                "x,y\n" + "".join(f"{x},{y}\n" for x, y in points[:150]), encoding="utf-8"
            )
            (root / "data" / "splits" / "test.csv").write_text(
                "x,y\n" + "".join(f"{x},{y}\n" for x, y in points[150:]), encoding="utf-8"
            )
            (root / "data" / "README.md").write_text("Synthetic data: y = 3x + 1.5 + noise\n")
            (root / "summary.json").write_text(
                json.dumps({"slope": exact_slope, "intercept": exact_intercept}, indent=2)
            )
            mlflow.log_artifacts(str(root))

        model = LinearModel(exact_slope, exact_intercept)
        major = int(mlflow.__version__.split(".")[0])
        naming = {"name": "model"} if major >= 3 else {"artifact_path": "model"}
        info = mlflow.pyfunc.log_model(python_model=model, **naming)
        loaded = mlflow.pyfunc.load_model(info.model_uri)
        prediction = loaded.predict([1.0, 2.0])
        print(f"run {run.info.run_id}: slope={exact_slope:.3f} predict([1, 2])={prediction}")
        return str(run.info.run_id)


if __name__ == "__main__":
    main()
