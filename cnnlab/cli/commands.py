"""``cnnlab evaluate``, ``cnnlab export`` and ``cnnlab presets``."""

from __future__ import annotations

import json
import math
from pathlib import Path

from cnnlab.cli.sources import check_fits, load_dataset, open_model, slug
from cnnlab.lab.analysis import Analysis, analyze
from cnnlab.lab.presets import PRESETS, build_preset


# ---------------------------------------------------------------- evaluate
def add_evaluate_arguments(p) -> None:
    p.add_argument("model", metavar="MODEL", help="a cnnlab model (.npz) or an ONNX file")
    p.add_argument("--data", default=None, metavar="DATA",
                   help="as for train (default: the bundled sample the model's input fits)")
    p.add_argument("--split", choices=("test", "train"), default="test",
                   help="which part of the dataset (default: test, as the Experiments tab)")
    p.add_argument("--download", action="store_true", help="download a full dataset if needed")
    p.add_argument("--json", action="store_true", help="print the results as JSON")


def _number(value: float):
    return None if math.isnan(value) else float(value)


def analysis_dict(result: Analysis, model_path: str, data_name: str, split: str) -> dict:
    """The results as JSON values (NaN, a class never predicted or absent, as null)."""
    return {"model": model_path, "data": data_name, "split": split, "images": int(len(result.y_true)),
            "accuracy": result.accuracy, "loss": _number(result.loss),
            "class_names": list(result.class_names),
            "precision": [_number(v) for v in result.precision],
            "recall": [_number(v) for v in result.recall],
            "per_class_accuracy": [_number(v) for v in result.per_class],
            "support": [int(v) for v in result.support],
            "confusion_matrix": result.confusion.tolist()}


def analysis_text(result: Analysis, title: str) -> str:
    """Accuracy, the per-class table and the confusion matrix as plain text."""
    n = len(result.y_true)
    correct = int((result.y_true == result.y_pred).sum())
    lines = [title, f"accuracy {result.accuracy:.4f} ({correct:,} / {n:,}) · loss {result.loss:.4f}", ""]
    width = max(5, *(len(c) for c in result.class_names))
    lines.append(f"{'class':<{width}}  precision  recall  support")
    for i, name in enumerate(result.class_names):
        p, r = result.precision[i], result.recall[i]
        lines.append(f"{name:<{width}}  {'–' if math.isnan(p) else f'{p:.4f}':>9}  "
                     f"{'–' if math.isnan(r) else f'{r:.4f}':>6}  {result.support[i]:>7,}")
    cell = max(4, len(f"{result.confusion.max():,}") + 1)
    short = [c[:cell - 1] for c in result.class_names]
    lines += ["", "confusion matrix (rows: true class, columns: guess)",
              " " * width + "".join(f"{c:>{cell}}" for c in short)]
    for name, row in zip(result.class_names, result.confusion):
        lines.append(f"{name:<{width}}" + "".join(f"{v:>{cell},}" for v in row))
    return "\n".join(lines)


def evaluate(args) -> int:
    model = open_model(args.model)
    default = "cifar10" if tuple(model.input_shape)[:1] == (3,) else "mnist"
    dataset = load_dataset(args.data or default, model.input_shape, download=args.download)
    check_fits(model, dataset)
    x, y = ((dataset.x_test, dataset.y_test) if args.split == "test"
            else (dataset.x_train, dataset.y_train))
    result = analyze(model, x, y, dataset.class_names)  # exactly what the Experiments tab runs
    if args.json:
        print(json.dumps(analysis_dict(result, str(args.model), dataset.name, args.split), indent=2))
    else:
        print(analysis_text(result, f"{args.model} on {dataset.name} ({args.split}, {len(y):,} images)"))
    return 0


# ------------------------------------------------------------------ export
def add_export_arguments(p) -> None:
    p.add_argument("model", metavar="MODEL", help="a cnnlab model (.npz) or an ONNX file")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--pytorch", metavar="DIR",
                        help="write DIR/model.py (build_model()) and DIR/weights.safetensors")
    target.add_argument("--onnx", metavar="FILE", help="write an ONNX file (float32)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset version (default 17)")


def export(args) -> int:
    from cnnlab.interop import export_onnx, export_pytorch

    model = open_model(args.model)
    if args.pytorch:
        folder = export_pytorch(model, args.pytorch)
        print(f"wrote {Path(folder) / 'model.py'} and {Path(folder) / 'weights.safetensors'}")
    else:
        print(f"wrote {export_onnx(model, args.onnx, opset=args.opset)}")
    return 0


# ----------------------------------------------------------------- presets
def presets(args) -> int:
    for name, (shape, _specs, description) in PRESETS.items():
        params = build_preset(name, seed=0).n_params
        print(f"{slug(name)}\n    {name} · input {'x'.join(map(str, shape))} · {params:,} parameters"
              f"\n    {description}")
    return 0
