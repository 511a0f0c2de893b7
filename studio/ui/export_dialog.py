"""The export dialog: a Python script (Studio or PyTorch, optionally DDP) with a highlighted preview,
the trained weights, the curves, and an ONNX model; each written exactly as `studio export` writes it."""

from __future__ import annotations

import keyword
import re
from pathlib import Path

from PySide6.QtCore import QRegularExpression
from PySide6.QtGui import QColor, QFont, QSyntaxHighlighter, QTextCharFormat
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
)

from studio.core import atomic
from studio.design.weights import load_weights
from studio.training.history import run_series, write_curves_csv

from . import file_dialogs
from .background import Background


def _fmt(colour, bold=False, italic=False):
    f = QTextCharFormat()
    f.setForeground(QColor(colour))
    if bold:
        f.setFontWeight(QFont.Weight.Bold)
    f.setFontItalic(italic)
    return f


class PythonHighlighter(QSyntaxHighlighter):
    """Keywords, builtins, strings, numbers and comments of Python source."""

    KEYWORDS = keyword.kwlist

    def __init__(self, document):
        super().__init__(document)
        self.rules = [
            (QRegularExpression(r"\b(" + "|".join(self.KEYWORDS) + r")\b"), _fmt("#c678dd", bold=True)),
            (
                QRegularExpression(r"\b(self|super|print|range|len|int|float|str|dict|list)\b"),
                _fmt("#e5a50a"),
            ),
            (QRegularExpression(r"\b[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?\b"), _fmt("#d19a66")),
            (QRegularExpression(r"\bdef\s+(\w+)|\bclass\s+(\w+)"), _fmt("#3d8fd1", bold=True)),
            (QRegularExpression(r"(\"[^\"\\n]*\"|'[^'\\n]*')"), _fmt("#50a14f")),
            (QRegularExpression(r"#[^\n]*"), _fmt("#8b949e", italic=True)),
        ]

    def highlightBlock(self, text):
        for expr, fmt in self.rules:
            it = expr.globalMatch(text)
            while it.hasNext():
                m = it.next()
                self.setFormat(m.capturedStart(), m.capturedLength(), fmt)


class ExportDialog(QDialog):
    """Choose what to export and where; the preview shows the script that will be written."""

    def __init__(self, project, parent=None):
        super().__init__(parent)
        self.setObjectName("exportDialog")
        self.setWindowTitle("Export")
        self.resize(820, 640)
        self.project = project
        self.studio_target = QRadioButton("Studio script (studio.core)")
        self.torch_target = QRadioButton("PyTorch script (needs only torch)")
        self.torch_target.setObjectName("torchTarget")
        self.studio_target.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.studio_target)
        group.addButton(self.torch_target)
        self.ddp = QCheckBox("DistributedDataParallel (run with torchrun --nproc_per_node=N)")
        self.ddp.setObjectName("ddpOption")
        self.preview = QPlainTextEdit()
        self.preview.setObjectName("scriptPreview")
        self.preview.setReadOnly(True)
        mono = QFont("DejaVu Sans Mono")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        mono.setPointSizeF(9.5)
        self.preview.setFont(mono)
        self.highlighter = PythonHighlighter(self.preview.document())
        self.status = QLabel()
        self.status.setWordWrap(True)
        save_script = QPushButton("Save script...")
        save_script.setObjectName("saveScriptButton")
        save_script.setDefault(True)
        self.save_weights_button = QPushButton("Save weights...")
        self.save_curves_button = QPushButton("Save curves...")
        self.save_onnx_button = QPushButton("Save ONNX...")
        self.save_onnx_button.setObjectName("saveOnnxButton")
        self.save_onnx_button.setToolTip(
            "The network with the newest run's weights, with a dynamic batch axis"
        )
        self.onnx_fold = QCheckBox(
            "ONNX: fold the preprocessing into the graph (else write it beside as JSON)"
        )
        self.onnx_fold.setObjectName("onnxFold")
        self.onnx_fold.setChecked(True)
        self.onnx_job = Background(self)
        self.onnx_job.finished.connect(self._onnx_written)
        self.onnx_job.failed.connect(lambda msg: self._onnx_done(f"Could not export ONNX: {msg}"))
        close = QPushButton("Close")
        self.save_onnx_button.clicked.connect(self._ask_onnx)
        save_script.clicked.connect(self._ask_script)
        self.save_weights_button.clicked.connect(self._ask_weights)
        self.save_curves_button.clicked.connect(self._ask_curves)
        close.clicked.connect(self.accept)
        last = self.last_run()
        self.save_weights_button.setEnabled(bool(last and last.get("weights")))
        self.save_curves_button.setEnabled(last is not None)
        targets = QHBoxLayout()
        targets.addWidget(self.studio_target)
        targets.addWidget(self.torch_target)
        targets.addWidget(self.ddp)
        targets.addStretch(1)
        buttons = QHBoxLayout()
        buttons.addWidget(save_script)
        buttons.addWidget(self.save_weights_button)
        buttons.addWidget(self.save_curves_button)
        buttons.addWidget(self.save_onnx_button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        lay = QVBoxLayout(self)
        lay.addLayout(targets)
        lay.addWidget(self.preview, 1)
        lay.addWidget(self.status)
        lay.addWidget(self.onnx_fold)
        lay.addLayout(buttons)
        for w in (self.studio_target, self.torch_target, self.ddp):
            w.toggled.connect(self.refresh)
        self.refresh()

    @property
    def target(self) -> str:
        return "torch" if self.torch_target.isChecked() else "studio"

    def last_run(self):
        runs = [r for r in self.project.runs if isinstance(r, dict) and r.get("status") != "failed"]
        return runs[-1] if runs else None

    def script(self, script_path=None) -> str:
        from studio.design import export_python

        ddp = self.ddp.isChecked() and self.target == "torch"
        return export_python(self.project, target=self.target, ddp=ddp, script_path=script_path)

    def refresh(self, *_):
        self.ddp.setEnabled(self.target == "torch")
        try:
            self.preview.setPlainText(self.script())
            self.status.setText("")
        except (ValueError, KeyError) as e:
            self.preview.setPlainText("")
            self.status.setText(f"The design cannot be exported yet: {e}")

    # --------------------------------------------------------------------------- writing
    def write_script(self, path) -> Path:
        path = Path(path)
        atomic.write_text(path, self.script(script_path=path))
        self.status.setText(f"Wrote {path}")
        return path

    def write_weights(self, path) -> Path:
        """Copy the last run's weights, after checking that they belong to this project's design."""
        run = self.last_run()
        if not run or not run.get("weights"):
            raise FileNotFoundError("no trained weights yet: train the model first")
        src = Path(run["weights"])
        if not src.is_absolute():
            src = self.project.folder / src
        name = self.project.name or (Path(self.project.path).stem if self.project.path else "this project")
        load_weights(src, self.project.design, name)
        path = Path(path)
        atomic.copy_file(src, path)
        self.status.setText(f"Wrote {path}")
        return path

    def write_curves(self, path) -> Path:
        run = self.last_run()
        if run is None:
            raise FileNotFoundError("no run yet: train the model first")
        out = write_curves_csv(path, run_series(run))
        self.status.setText(f"Wrote {out}")
        return out

    def write_onnx(self, path) -> None:
        """Export the newest trained run (or fresh weights before any) to ONNX, away from the GUI thread."""
        from studio.training.onnx_export import export_onnx

        trained = any(isinstance(r, dict) and r.get("weights") for r in self.project.runs)
        mode = "fold" if self.onnx_fold.isChecked() else "json"
        self.save_onnx_button.setEnabled(False)
        self.status.setText(f"Exporting {Path(path).name}...")
        self.onnx_job.start(
            lambda: export_onnx(self.project, path, preprocessing=mode, untrained=not trained)
        )

    def _onnx_written(self, res):
        run = f"run {res.run_id}" if res.run_id is not None else "untrained weights (no run yet)"
        extra = f", preprocessing in {res.json_path.name}" if res.json_path else ""
        check = (
            f"; onnxruntime agrees within {res.max_difference:.1e}" if res.max_difference is not None else ""
        )
        self._onnx_done(f"Wrote {res.path} ({run}{extra}){check}")

    def _onnx_done(self, text):
        self.status.setText(text)
        self.save_onnx_button.setEnabled(True)

    def _ask_onnx(self):
        self._ask("Save the ONNX model", ".onnx", "ONNX models (*.onnx)", self.write_onnx)

    def _default_name(self, suffix):
        stem = Path(self.project.path).stem if self.project.path else "model"
        stem = re.sub(r"[^A-Za-z0-9_-]+", "_", stem) or "model"
        return f"{stem}{suffix}"

    def _ask(self, title, suffix, filt, writer):
        path = file_dialogs.save_file(self, title, self._default_name(suffix), filt)
        if not path:
            return
        try:
            writer(path)
        except (OSError, RuntimeError, ValueError) as e:  # the loader's and the weights check's errors
            self.status.setText(f"Could not write {path}: {e}")

    def _ask_script(self):
        suffix = "_torch.py" if self.target == "torch" else ".py"
        self._ask("Save the script", suffix, "Python files (*.py)", self.write_script)

    def _ask_weights(self):
        self._ask("Save the weights", ".safetensors", "safetensors (*.safetensors)", self.write_weights)

    def _ask_curves(self):
        self._ask("Save the curves", "_curves.csv", "CSV files (*.csv)", self.write_curves)
