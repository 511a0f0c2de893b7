"""The data panel: choose a sample, a CSV file or an image folder, look at it, and set how it is split.

The panel edits a copy of the project's data settings and emits `dataChanged` with them and with
what the design must follow (input shape, class count, task); it holds no preprocessing logic of
its own: the description of the data comes from studio.design.datasource, as for `studio new` and
training. Every file is read in a background thread; meanwhile the panel says it is loading.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.design.datasource import DataError

from . import file_dialogs
from .background import Background
from .fields import FloatBox, int_box

PREVIEW_ROWS = 50
THUMBS_PER_CLASS = 6
THUMB_PX = 40
AUG_PREVIEW_PX = 44
SKEW_RATIO = 3.0  # largest class over smallest beyond which the balance is called skewed


def balance_warning(counts) -> str | None:
    """A plain-words warning when classes are badly unbalanced, else None."""
    counts = [int(c) for c in counts]
    if len(counts) < 2 or min(counts) == 0:
        return "Some classes have no examples at all." if counts and min(counts) == 0 else None
    ratio = max(counts) / min(counts)
    if ratio >= SKEW_RATIO:
        return (
            f"Classes are skewed: the largest has {ratio:.1f}x as many examples as the smallest. "
            "Accuracy can mislead; look at per-class recall."
        )
    return None


def _pixmap(arr: np.ndarray, size: int) -> QPixmap:
    a = np.asarray(arr, np.float64)
    if a.ndim == 3 and a.shape[0] in (1, 3):
        a = np.moveaxis(a, 0, -1)
    lo, hi = float(a.min()), float(a.max())
    a = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    a8 = np.ascontiguousarray((a * 255).astype(np.uint8))
    if a8.ndim == 3 and a8.shape[2] == 1:
        a8 = np.ascontiguousarray(a8[:, :, 0])
    fmt = QImage.Format.Format_Grayscale8 if a8.ndim == 2 else QImage.Format.Format_RGB888
    img = QImage(a8.data, a8.shape[1], a8.shape[0], a8.strides[0], fmt).copy()
    return QPixmap.fromImage(img).scaled(
        size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation
    )


class _Pages(QWidget):
    """One page shown at a time; unlike a QStackedWidget, hidden pages do not count for its size, so a
    wide or tall page does not stretch the panel while another is shown."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._lay = QVBoxLayout(self)
        self._lay.setContentsMargins(0, 0, 0, 0)
        self._pages: list[QWidget] = []
        self._current = -1

    def addWidget(self, page: QWidget):  # noqa: N802 - the QStackedWidget name
        self._pages.append(page)
        self._lay.addWidget(page)
        page.setVisible(len(self._pages) == 1)
        if self._current < 0:
            self._current = 0

    def setCurrentIndex(self, index: int):  # noqa: N802
        self._current = index
        for i, page in enumerate(self._pages):
            page.setVisible(i == index)

    def currentIndex(self) -> int:  # noqa: N802
        return self._current

    def count(self) -> int:
        return len(self._pages)

    def widget(self, index: int) -> QWidget:
        return self._pages[index]


# ---------------------------------------------------------------------------------------------------
# Reading, in a background thread (no Qt here)
# ---------------------------------------------------------------------------------------------------


def _file_key(path: Path):
    """What tells a file's content changed: its path, size and modification time."""
    st = os.stat(path)
    return (str(path), st.st_size, st.st_mtime_ns)


def _table_preview(data: dict, path: Path, frames: dict) -> dict:
    """A CSV file's table (read once per version of the file), its preview and its description."""
    from studio.core.data.tabular import column_summaries, read_csv
    from studio.design.datasource import describe_table

    try:
        key = _file_key(path)
    except FileNotFoundError:
        raise DataError(f"{path} does not exist") from None
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}") from None
    df = frames.get(key)
    if df is None:
        try:
            df = read_csv(path)
        except (OSError, ValueError) as e:
            raise DataError(str(e)) from None
    columns = [str(c) for c in df.columns]
    data = dict(data)
    if data.get("target") not in df.columns:
        data["target"] = None  # the last column is the usual place of the label
    out = {"frame": df, "key": key, "columns": columns, "name": path.name, "rows": len(df), "data": data}
    out["summaries"] = column_summaries(df)
    out["head"] = df.head(PREVIEW_ROWS).astype(str).to_numpy()
    try:
        out["info"] = describe_table(df, data, str(path))
    except DataError as e:
        out["info"], out["error"] = None, str(e)  # the table is still shown, to choose other columns
    return out


def _folder_preview(data: dict, path: Path) -> dict:
    """An image folder's classes, counts and a few thumbnails of each class."""
    from studio.design.datasource import describe_folder, read_source

    _, ds = read_source(dict(data, path=str(path)))
    info = describe_folder(ds, data)
    thumbs: dict = {}
    first = None
    for image_path, label in ds.samples:
        if len(thumbs.setdefault(label, [])) >= THUMBS_PER_CLASS:
            continue
        try:
            img = ds.load(image_path)
        except OSError:
            continue  # unreadable: counted by the scan, shown as skipped in training
        first = first or img
        thumbs[label].append(np.asarray(img, np.float64))
    return {
        "info": info,
        "name": path.name,
        "classes": list(ds.classes),
        "thumbs": thumbs,
        "first": first,
        "skipped": len(ds.skipped),
    }


def load_preview(data: dict, base, frames: dict) -> dict:
    """Everything the panel shows of `data` (files are read here, never in the GUI thread)."""
    from studio.design.datasource import describe_sample

    kind = data.get("kind", "sample")
    if kind == "sample":
        return {"kind": kind, "info": describe_sample(data.get("sample") or "iris")}
    if not data.get("path"):
        raise DataError(f"no {'CSV file' if kind == 'csv' else 'image folder'} is chosen")
    path = Path(data["path"])
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    if kind == "csv":
        return {"kind": kind, **_table_preview(data, path, frames)}
    if kind == "images":
        return {"kind": kind, **_folder_preview(data, path)}
    raise DataError(f"unknown data kind {kind!r}")


class DataPanel(QWidget):
    """Edits `project.data`; emits `dataChanged(data, input_shape, num_classes, task)`."""

    dataChanged = Signal(dict, tuple, int, str)
    message = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("dataPanel")
        self.setAccessibleName("Data")
        self.setAcceptDrops(True)
        self.project = None
        self.data: dict = {}
        self._loading = False  # widgets are being filled: their signals are not edits
        self._info = None  # (input shape, classes, task) of the data shown
        self._source_text = ""
        self._data_problems: list = []
        self._frames: dict = {}  # the table of the CSV file shown, by file version
        self._first_image = None  # for the augmentation preview, kept in memory
        self._reader = Background(self, "studio-data")

        # -- source
        self.source_label = QLabel()
        self.source_label.setObjectName("dataSource")
        self.source_label.setWordWrap(True)
        self.busy = QProgressBar()
        self.busy.setObjectName("dataLoading")
        self.busy.setRange(0, 0)  # reading: no end known
        self.busy.setMaximumHeight(6)
        self.busy.setTextVisible(False)
        self.busy.hide()
        self.problems = QLabel()
        self.problems.setObjectName("dataProblems")
        self.problems.setWordWrap(True)
        self.problems.setStyleSheet("color: #d93025;")
        self.problems.hide()
        # the panel lives in a narrow side dock: controls sit in grids of two columns, not long rows
        samples = QGridLayout()
        from studio.design.samples import SAMPLE_INFO

        self.sample_buttons = {}
        for i, (name, info) in enumerate(SAMPLE_INFO.items()):
            b = QPushButton(name.capitalize())
            b.setObjectName(f"sample_{name}")
            b.setToolTip(info["title"])
            b.clicked.connect(lambda _=False, n=name: self.use_sample(n))
            samples.addWidget(b, i // 2, i % 2)
            self.sample_buttons[name] = b
        open_csv = QPushButton("CSV file...")
        open_csv.setObjectName("openCsvButton")
        open_csv.setToolTip("Open a CSV file (or drop one on the window)")
        open_csv.clicked.connect(self._ask_csv)
        open_imgs = QPushButton("Image folder...")
        open_imgs.setObjectName("openFolderButton")
        open_imgs.setToolTip("Open a folder with one sub-folder of images per class")
        open_imgs.clicked.connect(self._ask_folder)
        files = QHBoxLayout()
        files.addWidget(open_csv)
        files.addWidget(open_imgs)

        # -- CSV page
        self.table = QTableWidget()
        self.table.setObjectName("csvPreview")
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.target = QComboBox()
        self.target.setObjectName("targetColumn")
        self.features = QListWidget()
        self.features.setObjectName("featureColumns")
        self.features.setMaximumHeight(120)
        self.task = QComboBox()
        self.task.addItem("classification", "classification")
        self.task.addItem("regression", "regression")
        self.missing = QComboBox()
        for key in ("mean", "median", "most_frequent", "constant", "drop", "error"):
            self.missing.addItem(key.replace("_", " "), key)
        self.standardize = QCheckBox("standardise numeric columns")
        self.standardize.setToolTip(
            "Scale numeric columns to mean 0 and spread 1; text columns are one-hot coded"
        )
        csv_form = QFormLayout()
        csv_form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        csv_form.addRow("Target", self.target)
        csv_form.addRow("Task", self.task)
        csv_form.addRow("Features", self.features)
        csv_form.addRow("Missing values", self.missing)
        csv_form.addRow("", self.standardize)
        csv_page = QWidget()
        cl = QVBoxLayout(csv_page)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addWidget(self.table, 2)
        cl.addLayout(csv_form)

        # -- image page
        self.image_info = QLabel()
        self.image_info.setWordWrap(True)
        self.thumbs = QWidget()
        self.thumbs_grid = QGridLayout(self.thumbs)
        self.thumbs_grid.setSpacing(3)
        thumbs_scroll = QScrollArea()
        thumbs_scroll.setWidgetResizable(True)
        thumbs_scroll.setWidget(self.thumbs)
        thumbs_scroll.setMinimumHeight(4 * (THUMB_PX + 8))  # a few classes at a time
        self.height_box = int_box("image_size")
        self.width_box = int_box("image_size")
        self.mode = QComboBox()
        self.mode.addItem("grey (1 channel)", "L")
        self.mode.addItem("colour (3 channels)", "RGB")
        self.aug_flip = QCheckBox("horizontal flip")
        self.aug_shift = QCheckBox("random crop (shift)")
        self.aug_rotate = QCheckBox("rotation (±15°)")
        aug_preview = QPushButton("Preview augmentation")
        aug_preview.clicked.connect(self.preview_augmentation)
        self.aug_grid_widget = QWidget()
        self.aug_grid = QGridLayout(self.aug_grid_widget)
        self.aug_grid.setSpacing(3)
        self.aug_grid.setContentsMargins(0, 0, 0, 0)
        size_row = QHBoxLayout()
        size_row.addWidget(self.height_box)
        size_row.addWidget(QLabel("x"))
        size_row.addWidget(self.width_box)
        img_form = QFormLayout()
        img_form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        img_form.addRow("Resize to", size_row)
        img_form.addRow("Channels", self.mode)
        aug_box = QVBoxLayout()
        for w in (self.aug_flip, self.aug_shift, self.aug_rotate):
            aug_box.addWidget(w)
        img_form.addRow("Augmentation", aug_box)
        img_page = QWidget()
        il = QVBoxLayout(img_page)
        il.setContentsMargins(0, 0, 0, 0)
        il.addWidget(self.image_info)
        il.addWidget(thumbs_scroll, 2)
        il.addLayout(img_form)
        il.addWidget(aug_preview)
        il.addWidget(self.aug_grid_widget)

        self.sample_info = QLabel()
        self.sample_info.setWordWrap(True)
        self.sample_info.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.pages = _Pages()
        self.pages.addWidget(self.sample_info)
        self.pages.addWidget(csv_page)
        self.pages.addWidget(img_page)

        # -- split and balance
        # the fields' ranges are the project format's: any file the loader takes shows unchanged
        self.train_frac = FloatBox("train_fraction", 0.05)
        self.val_frac = FloatBox("fraction", 0.05)
        self.test_frac = FloatBox("fraction", 0.05)
        self.seed = int_box("seed")
        split_form = QFormLayout()
        for label, w in (
            ("Training", self.train_frac),
            ("Validation", self.val_frac),
            ("Test", self.test_frac),
            ("Seed", self.seed),
        ):
            split_form.addRow(label, w)
        split_box = QGroupBox("Split")
        split_box.setLayout(split_form)
        self.balance = pg.PlotWidget()
        self.balance.setObjectName("classBalance")
        self.balance.setBackground(None)
        self.balance.setTitle("class balance", size="9pt")
        self.balance.setMaximumHeight(170)
        self.balance.setMouseEnabled(x=False, y=False)
        self.balance_warning = QLabel()
        self.balance_warning.setObjectName("balanceWarning")
        self.balance_warning.setWordWrap(True)
        self.balance_warning.setStyleSheet("color: #e37400;")

        lay = QVBoxLayout(self)
        lay.addWidget(self.source_label)
        lay.addWidget(self.busy)
        lay.addWidget(self.problems)
        lay.addLayout(samples)
        lay.addLayout(files)
        lay.addWidget(self.pages)
        lay.addWidget(split_box)
        lay.addWidget(self.balance)
        lay.addWidget(self.balance_warning)
        lay.addStretch(1)

        for w in (self.target, self.task, self.missing, self.mode):
            w.currentIndexChanged.connect(self._edited)
        for w in (self.train_frac, self.val_frac, self.test_frac, self.seed, self.height_box, self.width_box):
            w.valueChanged.connect(self._edited)
        for w in (self.standardize, self.aug_flip, self.aug_shift, self.aug_rotate):
            w.toggled.connect(self._edited)
        self.features.itemChanged.connect(self._edited)

    # ------------------------------------------------------------------------------ project
    def set_project(self, project):
        """Show a project's data (an undo step or another project): read it, emitting nothing."""
        if self.project is not None:
            self.project.design.changed.disconnect(self._show_fit_problems)
        self.project = project
        project.design.changed.connect(self._show_fit_problems)
        self.data = dict(project.data)
        self._show_split()
        self._read(emit=False)

    @property
    def loading(self) -> bool:
        """True while the data is being read in the background."""
        return self._reader.busy

    @property
    def loaded(self):
        """A signal emitted each time a read ends, whatever its outcome."""
        return self._reader.done

    def _base(self):
        return Path(self.project.path).parent if self.project is not None and self.project.path else None

    def _source_name(self, data=None) -> str:
        d = data or self.data
        if d.get("kind", "sample") == "sample":
            return f"the {d.get('sample') or 'iris'} sample"
        return Path(str(d.get("path") or "")).name or "the data"

    def _read(self, emit=True, fallback=None):
        """Read the data of `self.data` in the background, then show it (and emit dataChanged when
        `emit`). When a newly chosen source cannot be read, the panel goes back to `fallback`."""
        self.busy.show()
        self.source_label.setText(f"Loading {self._source_name()}...")
        args = (dict(self.data), self._base(), dict(self._frames))
        self._reader.run(
            load_preview, lambda result, error: self._loaded(result, error, emit, fallback), *args
        )

    def _loaded(self, result, error, emit, fallback):
        self.busy.hide()
        if error is not None:
            if not isinstance(error, (DataError, OSError, ValueError)):
                raise error
            self._show_failure(str(error), fallback)
            return
        self._loading = True
        try:
            kind = result["kind"]
            if kind == "csv":
                self._show_csv(result)
            elif kind == "images":
                self._show_images(result)
            else:
                self._show_sample(result["info"])
        finally:
            self._loading = False
        problems = list((result.get("info") or {}).get("problems", []))
        if result.get("error"):
            self._info = None
            problems.insert(0, result["error"])
        self._show_problems(problems)
        if emit and result.get("info") is not None:
            self._emit()

    def _show_failure(self, reason: str, fallback):
        name = self._source_name()
        if fallback is not None:
            self.data = fallback  # the project keeps its data; the panel still shows it
            text = f"Could not read {name}: {reason}. The data is unchanged."
            self.source_label.setText(self._source_text)
        else:
            text = f"Could not read {name}: {reason}"
            self._info = None
            self.source_label.setText("<span style='color:#d93025'>Could not read the data</span>")
        self._show_problems([text])
        self.message.emit(text)

    def _show_problems(self, problems):
        self._data_problems = list(problems)
        self._show_fit_problems()

    def _show_split(self):
        self._loading = True
        try:
            d = self.data
            split = {"train": 0.7, "val": 0.15, "test": 0.15, **(d.get("split") or {})}
            for box, key in ((self.train_frac, "train"), (self.val_frac, "val"), (self.test_frac, "test")):
                box.setValue(float(split[key]))
            self.seed.setValue(int(d.get("seed") or 0))
        finally:
            self._loading = False

    # ------------------------------------------------------------------------------ sources
    def _choose(self, changes: dict):
        """A new source: read it, and keep it only if it can be read."""
        before = dict(self.data)
        self.data.update(changes)
        self._read(emit=True, fallback=before)

    def use_sample(self, name: str):
        self._choose({"kind": "sample", "sample": name, "path": None, "target": None, "features": []})

    def use_csv(self, path):
        self._choose(
            {
                "kind": "csv",
                "path": str(Path(path)),
                "target": None,
                "features": [],
                "task": None,
                "preprocessing": "standardize",
            }
        )

    def use_folder(self, path):
        self._choose({"kind": "images", "path": str(Path(path)), "target": None, "features": []})

    def _ask_csv(self):
        path = file_dialogs.open_file(self, "Open a CSV file", "CSV files (*.csv);;All files (*)")
        if path:
            self.use_csv(path)

    def _ask_folder(self):
        path = file_dialogs.open_folder(self, "Open an image folder (one sub-folder per class)")
        if path:
            self.use_folder(path)

    def dragEnterEvent(self, event):
        if any(
            u.toLocalFile().lower().endswith(".csv") or Path(u.toLocalFile()).is_dir()
            for u in event.mimeData().urls()
        ):
            event.acceptProposedAction()

    def dropEvent(self, event):
        for u in event.mimeData().urls():
            p = Path(u.toLocalFile())
            if p.suffix.lower() == ".csv":
                self.use_csv(p)
                return
            if p.is_dir():
                self.use_folder(p)
                return

    # ------------------------------------------------------------------------------ samples
    def _show_sample(self, info):
        self.pages.setCurrentIndex(0)
        self._set_source_text(f"<b>Sample:</b> {info['summary']}")
        counts = info["class_counts"]
        self.sample_info.setText(
            f"{info['rows']} examples, input shape {tuple(info['input_shape'])}, {info['task']}, "
            f"{len(counts)} classes."
        )
        self._info = (tuple(info["input_shape"]), int(info["num_classes"]), info["task"])
        self._show_balance(counts, info["class_names"])

    def _set_source_text(self, text):
        self._source_text = text
        self.source_label.setText(text)

    # ---------------------------------------------------------------------------------- CSV
    def _show_csv(self, result):
        self._frames = {result["key"]: result["frame"]}
        sums, head, columns = result["summaries"], result["head"], result["columns"]
        self.pages.setCurrentIndex(1)
        self._set_source_text(f"<b>CSV:</b> {result['name']} ({result['rows']} rows, {len(columns)} columns)")
        self.table.setColumnCount(len(columns))
        self.table.setRowCount(len(head))
        self.table.setHorizontalHeaderLabels(
            [f"{s['name']}\n{s['type']}, {s['missing']} missing" for s in sums]
        )
        for r in range(head.shape[0]):
            for c in range(head.shape[1]):
                self.table.setItem(r, c, QTableWidgetItem(head[r, c]))
        # each column as wide as its two-line header (and its cells) need: no header is cut
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setFixedHeight(self.table.horizontalHeader().sizeHint().height())
        info = result["info"]
        d = self.data
        target = info["target"] if info else (result["data"].get("target") or columns[-1])
        d["target"] = target
        self.target.clear()
        for c in columns:
            self.target.addItem(c, c)
        self.target.setCurrentIndex(columns.index(target) if target in columns else len(columns) - 1)
        chosen = set(d.get("features") or [c for c in columns if c != target])
        self.features.clear()
        for c in columns:
            if c == target:
                continue
            item = QListWidgetItem(c)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if c in chosen else Qt.CheckState.Unchecked)
            self.features.addItem(item)
        if info is None:
            return
        # what training will use, written out: the features and task resolved from the whole file
        d["features"], d["task"] = list(info["features"]), info["task"]
        self.task.setCurrentIndex(self.task.findData(info["task"]))
        missing = d.get("missing") or "mean"
        if self.missing.findData(missing) < 0:  # a strategy kept from an older file
            self.missing.addItem(missing, missing)
        self.missing.setCurrentIndex(self.missing.findData(missing))
        self.standardize.setChecked(d.get("preprocessing", "standardize") == "standardize")
        classes = info["num_classes"] if info["task"] == "classification" else 0
        self._info = (tuple(info["input_shape"]), classes, info["task"])
        self._show_balance(info["class_counts"] if classes else [], info["class_names"] if classes else [])

    # ------------------------------------------------------------------------------- images
    def _show_images(self, result):
        info, classes = result["info"], result["classes"]
        self.pages.setCurrentIndex(2)
        size = tuple(self.data.get("image_size") or (28, 28))
        mode = self.data.get("image_mode") or "L"
        counts = info["class_counts"]
        first = result["first"]
        native = f"{first.size[1]}x{first.size[0]}" if first is not None else "?"
        channels = 1 if mode == "L" else 3
        self._set_source_text(
            f"<b>Images:</b> {result['name']} ({info['rows']} images, {len(classes)} classes)"
        )
        skipped = f"; {result['skipped']} unreadable files skipped" if result["skipped"] else ""
        self.image_info.setText(
            f"Images like {native} pixels, used as {channels} channel(s) at {size[0]}x{size[1]}{skipped}."
        )
        self.height_box.setValue(int(size[0]))
        self.width_box.setValue(int(size[1]))
        self.mode.setCurrentIndex(self.mode.findData(mode))
        aug = self.data.get("augmentation") or {}
        self.aug_flip.setChecked(bool(aug.get("hflip")))
        self.aug_shift.setChecked(bool(aug.get("shift")))
        self.aug_rotate.setChecked(bool(aug.get("rotate")))
        _clear(self.thumbs_grid)
        for row, (t, images) in enumerate(sorted(result["thumbs"].items())):
            self.thumbs_grid.addWidget(QLabel(f"{classes[t]} ({counts[t]})"), row, 0)
            for col, img in enumerate(images, start=1):
                cell = QLabel()
                cell.setPixmap(_pixmap(img, THUMB_PX))
                self.thumbs_grid.addWidget(cell, row, col)
        self._first_image = first
        self._info = (tuple(info["input_shape"]), len(classes), "classification")
        self._show_balance(counts, classes)

    def augmentation_pipeline(self):
        """The augmentation chosen, as studio.core.data transforms on PIL images."""
        from studio.core.data import transforms as T

        size = (self.height_box.value(), self.width_box.value())
        steps = [T.Resize(size)]
        if self.aug_flip.isChecked():
            steps.append(T.RandomHorizontalFlip())
        if self.aug_shift.isChecked():
            steps.append(T.RandomCrop(size, padding=max(1, size[0] // 8)))
        if self.aug_rotate.isChecked():
            steps.append(T.RandomRotation(15))
        steps.append(T.ToTensor())
        return T.Compose(steps)

    def preview_augmentation(self):
        """Eight augmented versions of the first image (read with the folder, kept in memory)."""
        _clear(self.aug_grid)
        if self.data.get("kind") != "images" or self._first_image is None:
            self.message.emit("Open an image folder to preview augmentation.")
            return
        pipeline = self.augmentation_pipeline()
        for k in range(8):
            cell = QLabel()
            cell.setPixmap(_pixmap(pipeline(self._first_image).numpy(), AUG_PREVIEW_PX))
            self.aug_grid.addWidget(cell, k // 4, k % 4)

    # ------------------------------------------------------------------------------ shared
    def _show_balance(self, counts, names):
        self.balance.clear()
        counts = list(counts)
        if counts:
            bars = pg.BarGraphItem(
                x=np.arange(len(counts)), height=counts, width=0.7, brush=(66, 133, 244, 180)
            )
            self.balance.addItem(bars)
            self.balance.getAxis("bottom").setTicks([[(i, str(n)) for i, n in enumerate(names)]])
        warning = balance_warning(counts) if counts else None
        self.balance_warning.setText(warning or "")
        self.balance_warning.setVisible(bool(warning))
        self.balance.setVisible(bool(counts))

    def _split_edited(self, sender):
        """The fractions never add up to more than 1: an edit takes what it needs from the others,
        the test fraction first, then validation, then training."""
        boxes = {"train": self.train_frac, "val": self.val_frac, "test": self.test_frac}
        excess = sum(b.value() for b in boxes.values()) - 1.0
        for key in ("test", "val", "train"):
            box = boxes[key]
            if excess <= 1e-12 or box is sender:
                continue
            take = min(excess, box.value() - box.minimum())
            box.setValue(box.value() - take)
            excess -= take

    def _edited(self, *_):
        if self._loading:
            return
        sender = self.sender()
        d = self.data
        self._loading = True
        try:
            if sender in (self.train_frac, self.val_frac, self.test_frac):
                self._split_edited(sender)
        finally:
            self._loading = False
        d["split"] = {
            "train": self.train_frac.value(),
            "val": self.val_frac.value(),
            "test": self.test_frac.value(),
        }
        d["seed"] = self.seed.value()
        kind = d.get("kind")
        if kind == "csv" and self.target.count():
            if sender is self.target:
                d.update(target=self.target.currentData(), features=[], task=None)
            else:
                d["features"] = [
                    self.features.item(i).text()
                    for i in range(self.features.count())
                    if self.features.item(i).checkState() == Qt.CheckState.Checked
                ]
                d["task"] = self.task.currentData()
                d["missing"] = self.missing.currentData()
                d["preprocessing"] = "standardize" if self.standardize.isChecked() else "none"
            if sender not in (self.train_frac, self.val_frac, self.test_frac, self.seed):
                self._read()  # columns and task change what the data gives: described anew
                return
        elif kind == "images":
            d["image_size"] = [self.height_box.value(), self.width_box.value()]
            d["image_mode"] = self.mode.currentData()
            d["augmentation"] = {
                "hflip": self.aug_flip.isChecked(),
                "shift": self.aug_shift.isChecked(),
                "rotate": self.aug_rotate.isChecked(),
            }
            if sender in (self.mode, self.height_box, self.width_box):
                self._read()
                return
        self._emit()

    def _emit(self):
        if self._info is None:
            return
        shape, classes, task = self._info
        self.dataChanged.emit(dict(self.data), tuple(shape), int(classes), str(task))
        self._show_fit_problems()

    def _show_fit_problems(self, *_):
        """The data's problems, and what keeps the design from fitting the data (a head that is not a
        Linear layer, say): checked again whenever the design changes."""
        from studio.design.datasource import fit_problems, loss_name_for

        found = []
        if self.project is not None and self._info is not None and self.data == self.project.data:
            shape, classes, task = self._info
            info = {"kind": self.data.get("kind"), "input_shape": shape, "task": task, "num_classes": classes}
            found = fit_problems(self.project.design, info, loss_name_for(self.project, task))
        problems = self._data_problems + found
        self.problems.setText("\n".join(problems))
        self.problems.setVisible(bool(problems))


def _clear(grid):
    while grid.count():
        w = grid.takeAt(0).widget()
        if w is not None:
            w.deleteLater()
