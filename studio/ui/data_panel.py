"""The data panel: choose a sample, a CSV file or an image folder, look at it, and set how it is split.

The panel edits a copy of the project's data settings and emits `dataChanged` with them and with
what the design must follow (input shape, class count, task); it holds no preprocessing logic of
its own: previews come from studio.core.data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

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
        self._loading = False
        self._frame = None
        self._summaries = []
        self._image_info = None

        # -- source
        self.source_label = QLabel()
        self.source_label.setWordWrap(True)
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
        self.height_box = QSpinBox(minimum=4, maximum=1024)
        self.width_box = QSpinBox(minimum=4, maximum=1024)
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
        self.train_frac = QDoubleSpinBox(decimals=2, minimum=0.05, maximum=0.95, singleStep=0.05)
        self.val_frac = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=0.9, singleStep=0.05)
        self.test_frac = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=0.9, singleStep=0.05)
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1)
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
        self.project = project
        self.data = dict(project.data)
        self._refresh_source(emit=False)

    def _refresh_source(self, emit=True):
        """Load the preview of the current source and fill every control from `self.data`."""
        self._loading = True
        try:
            d = self.data
            kind = d.get("kind", "sample")
            split = d.get("split") or {"train": 0.7, "val": 0.15, "test": 0.15}
            self.train_frac.setValue(float(split.get("train", 0.7)))
            self.val_frac.setValue(float(split.get("val", 0.15)))
            self.test_frac.setValue(float(split.get("test", 0.15)))
            self.seed.setValue(int(d.get("seed") or 0))
            if kind == "csv":
                self._load_csv_preview()
            elif kind == "images":
                self._load_images_preview()
            else:
                self._show_sample()
        except (OSError, ValueError, KeyError) as e:
            self.message.emit(f"Could not read the data: {e}")
            self.source_label.setText(f"<span style='color:#d93025'>Could not read the data: {e}</span>")
        finally:
            self._loading = False
        if emit:
            self._emit()

    # ------------------------------------------------------------------------------ sources
    def use_sample(self, name: str):
        self.data.update({"kind": "sample", "sample": name, "path": None, "target": None, "features": []})
        self._refresh_source()

    def use_csv(self, path):
        path = Path(path)
        self.data.update(
            {"kind": "csv", "path": str(path), "target": None, "features": [], "preprocessing": "standardize"}
        )
        self._frame = None
        self._refresh_source()

    def use_folder(self, path):
        self.data.update({"kind": "images", "path": str(Path(path)), "target": None, "features": []})
        self._refresh_source()

    def _ask_csv(self):
        path, _ = QFileDialog.getOpenFileName(self, "Open a CSV file", "", "CSV files (*.csv);;All files (*)")
        if path:
            self.use_csv(path)

    def _ask_folder(self):
        path = QFileDialog.getExistingDirectory(self, "Open an image folder (one sub-folder per class)")
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

    def _abs_path(self):
        p = Path(self.data["path"])
        if not p.is_absolute() and self.project is not None and self.project.path:
            p = Path(self.project.path).parent / p
        return p

    # ------------------------------------------------------------------------------ samples
    def _show_sample(self):
        from studio.design.samples import SAMPLE_INFO, load_sample

        name = self.data.get("sample") or "iris"
        info = SAMPLE_INFO[name]
        self.pages.setCurrentIndex(0)
        self.source_label.setText(f"<b>Sample:</b> {info['title']}")
        _, y = load_sample(name)
        counts = np.bincount(y, minlength=info.get("num_classes", 0))
        self.sample_info.setText(
            f"{len(y)} examples, input shape {tuple(info['input_shape'])}, {info['task']}, "
            f"{len(counts)} classes."
        )
        self._info = (tuple(info["input_shape"]), int(info.get("num_classes", 0)), info["task"])
        self._show_balance(counts, [str(i) for i in range(len(counts))])

    # ---------------------------------------------------------------------------------- CSV
    def _load_csv_preview(self):
        from studio.core.data.tabular import column_summaries, detect_task, read_csv

        path = self._abs_path()
        if self._frame is None or getattr(self, "_frame_path", None) != path:
            self._frame = read_csv(path)
            self._frame_path = path
            self._summaries = column_summaries(self._frame)
        df, sums = self._frame, self._summaries
        self.pages.setCurrentIndex(1)
        self.source_label.setText(f"<b>CSV:</b> {path.name} ({len(df)} rows, {len(df.columns)} columns)")
        head = df.head(PREVIEW_ROWS)
        self.table.setColumnCount(len(df.columns))
        self.table.setRowCount(len(head))
        self.table.setHorizontalHeaderLabels(
            [f"{s['name']}\n{s['type']}, {s['missing']} missing" for s in sums]
        )
        values = head.astype(str).to_numpy()
        for r in range(values.shape[0]):
            for c in range(values.shape[1]):
                self.table.setItem(r, c, QTableWidgetItem(values[r, c]))
        columns = [s["name"] for s in sums]
        target = self.data.get("target")
        if target not in columns:
            # the last column is the usual place of the label
            target = columns[-1]
            self.data["target"] = target
        self.target.clear()
        for c in columns:
            self.target.addItem(c, c)
        self.target.setCurrentIndex(columns.index(target))
        chosen = set(self.data.get("features") or [c for c in columns if c != target])
        self.features.clear()
        for c in columns:
            if c == target:
                continue
            item = QListWidgetItem(c)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if c in chosen else Qt.CheckState.Unchecked)
            self.features.addItem(item)
        task = self.data.get("task")
        if task not in ("classification", "regression"):
            task = detect_task(df[target])
            self.data["task"] = task
        self.task.setCurrentIndex(self.task.findData(task))
        self.missing.setCurrentIndex(max(0, self.missing.findData(self.data.get("missing") or "mean")))
        self.standardize.setChecked(self.data.get("preprocessing", "standardize") == "standardize")
        self._update_csv_info()

    def _update_csv_info(self):
        from studio.core.data.tabular import TabularPreprocessor

        df = self._frame
        target = self.data["target"]
        pre = TabularPreprocessor(
            target=target,
            features=self.data.get("features") or None,  # none chosen: the rule training applies
            task=self.data.get("task") or "auto",
            missing=self.data.get("missing") or "mean",
        )
        pre.fit(df, str(self._abs_path()))
        classes = list(pre.classes or [])
        self._info = ((pre.num_features,), len(classes) if pre.task == "classification" else 0, pre.task)
        if pre.task == "classification":
            counts = df[target].astype(str).value_counts()
            self._show_balance([int(counts.get(c, 0)) for c in classes], classes)
        else:
            self._show_balance([], [])

    # ------------------------------------------------------------------------------- images
    def _load_images_preview(self):
        from studio.core.data.images import ImageFolder

        root = self._abs_path()
        self.pages.setCurrentIndex(2)
        size = tuple(self.data.get("image_size") or (28, 28))
        mode = self.data.get("image_mode") or "L"
        ds = ImageFolder(root, mode=mode, on_error="skip", verify=False)
        counts = np.bincount(np.asarray(ds.targets, np.int64), minlength=len(ds.classes))
        first = ds[0][0] if len(ds) else None
        native = f"{first.size[1]}x{first.size[0]}" if first is not None else "?"
        channels = 1 if mode == "L" else 3
        self.source_label.setText(f"<b>Images:</b> {root.name} ({len(ds)} images, {len(ds.classes)} classes)")
        skipped = f"; {len(ds.skipped)} unreadable files skipped" if ds.skipped else ""
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
        while self.thumbs_grid.count():
            w = self.thumbs_grid.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        by_class: dict = {}
        for i, (_, t) in enumerate(ds.samples):
            by_class.setdefault(t, [])
            if len(by_class[t]) < THUMBS_PER_CLASS:
                by_class[t].append(i)
        for row, (t, idxs) in enumerate(sorted(by_class.items())):
            self.thumbs_grid.addWidget(QLabel(f"{ds.classes[t]} ({counts[t]})"), row, 0)
            for col, i in enumerate(idxs, start=1):
                img = np.asarray(ds[i][0], np.float64)
                cell = QLabel()
                cell.setPixmap(_pixmap(img, THUMB_PX))
                self.thumbs_grid.addWidget(cell, row, col)
        self._image_ds = ds
        self._info = ((channels, int(size[0]), int(size[1])), len(ds.classes), "classification")
        self._show_balance(counts, ds.classes)

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
        """Eight augmented versions of the first image, side by side."""
        while self.aug_grid.count():
            w = self.aug_grid.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        ds = getattr(self, "_image_ds", None)
        if ds is None or not len(ds):
            self.message.emit("Open an image folder to preview augmentation.")
            return
        pipeline = self.augmentation_pipeline()
        img = ds[0][0]
        for k in range(8):
            cell = QLabel()
            cell.setPixmap(_pixmap(pipeline(img).numpy(), AUG_PREVIEW_PX))
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

    def _edited(self, *_):
        if self._loading:
            return
        d = self.data
        d["split"] = {
            "train": self.train_frac.value(),
            "val": self.val_frac.value(),
            "test": self.test_frac.value(),
        }
        d["seed"] = self.seed.value()
        kind = d.get("kind")
        try:
            if kind == "csv" and self._frame is not None:
                d["target"] = self.target.currentData()
                feats = [
                    self.features.item(i).text()
                    for i in range(self.features.count())
                    if self.features.item(i).checkState() == Qt.CheckState.Checked
                ]
                if self.sender() is self.target:
                    self._refresh_source()
                    return
                d["features"] = feats
                d["task"] = self.task.currentData()
                d["missing"] = self.missing.currentData()
                d["preprocessing"] = "standardize" if self.standardize.isChecked() else "none"
                self._update_csv_info()
            elif kind == "images":
                d["image_size"] = [self.height_box.value(), self.width_box.value()]
                d["image_mode"] = self.mode.currentData()
                d["augmentation"] = {
                    "hflip": self.aug_flip.isChecked(),
                    "shift": self.aug_shift.isChecked(),
                    "rotate": self.aug_rotate.isChecked(),
                }
                if self.sender() in (self.mode, self.height_box, self.width_box):
                    self._refresh_source()
                    return
        except (OSError, ValueError, KeyError) as e:
            self.message.emit(f"Data settings not usable: {e}")
            return
        self._emit()

    def _emit(self):
        info = getattr(self, "_info", None)
        if info is None:
            return
        shape, classes, task = info
        self.dataChanged.emit(dict(self.data), tuple(shape), int(classes), str(task))
