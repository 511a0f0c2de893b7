"""The main window: the canvas; docks for palette, data, properties, problems, history, training, curves,
evaluation and the graph inspector; menus and the run toolbar; files."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QTabWidget,
    QUndoView,
)

from studio.design import Design
from studio.design.project import ProjectError, list_templates, load_project, load_template, new_project
from studio.design.runs import discard_unsaved, save_with_runs

from . import file_dialogs, recovery
from .canvas import CanvasScene, CanvasView, spread_overlapping
from .commands import SetParamOp
from .compress_panel import CompressPanel
from .data_panel import DataPanel
from .editor import Editor, clipboard_nodes
from .evaluation import EvaluationView
from .experiments_panel import ExperimentsPanel, apply_ops
from .inspector import REFRESH_MS, GraphInspector
from .issues import IssuesPanel
from .layout import STEP, layered_layout
from .names import APP_NAME, ORG_NAME
from .node_previews import NodePreviews
from .palette import LayerPalette
from .plots import LivePlots, release_legends
from .properties import PropertiesPanel
from .run_compare import RunComparison
from .training_panel import TrainingPanel

FILE_FILTER = "Studio projects (*.studio);;All files (*)"
OPEN_FILTER = (
    "Studio projects and ONNX models (*.studio *.onnx);;Studio projects (*.studio);;ONNX models (*.onnx)"
)
WEIGHTS_FILTER = "Weights (*.safetensors *.pt *.pth *.bin);;All files (*)"
MAX_RECENT = 10
AUTOSAVE_MS = 60_000
DESIGN_PROBLEM = "Fix the design first"  # how messages about a design that cannot run begin
EXAMPLE_TEMPLATE = "iris_mlp"
_open_windows: set = set()  # windows opened from a window, kept alive until closed


def settings() -> QSettings:
    return QSettings(ORG_NAME, APP_NAME)


def example_project():
    """The project a new window shows: the Iris MLP template, or the same network built here."""
    try:
        return load_template(EXAMPLE_TEMPLATE)
    except (ProjectError, OSError):
        pass
    design = Design()
    chain = [
        ("Input", {"shape": (4,)}),
        ("Linear", {"out_features": 16}),
        ("ReLU", {}),
        ("Linear", {"out_features": 3}),
        ("Output", {}),
    ]
    ids = [design.add_node(type_, params).id for type_, params in chain]
    for src, dst in zip(ids, ids[1:]):
        design.connect(src, dst)
    for node_id, pos in layered_layout(ids, design.edges, spacing=STEP).items():
        design.move(node_id, pos)
    return new_project(design=design, data={"kind": "sample", "sample": "iris"}, name="Iris MLP")


def _scrolled(widget):
    """A panel inside a scroll area, so that a narrow dock does not squeeze the canvas."""
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    area.setWidget(widget)
    area.setMinimumWidth(200)
    return area


class _SetDataOp:
    """An undoable change of the project's data settings (they live in the project, not the design)."""

    def __init__(self, window, old: dict, new: dict):
        self.window, self.old, self.new = window, old, new
        self._shown = True  # the data panel already shows the new data when the step is first done

    def do(self, design):
        self._set(self.new)

    def undo(self, design):
        self._set(self.old)

    def _set(self, data):
        self.window.project.data = dict(data)
        if self._shown:
            self._shown = False
            return
        self.window.data_panel.set_project(self.window.project)


class MainWindow(QMainWindow):
    """One open project. `MainWindow()` shows the example project; `MainWindow(path=...)` opens a file."""

    def __init__(self, path=None, project=None, parent=None):
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setAccessibleName("Studio")
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)
        self._restored_changes = False  # recovered work counts as unsaved though the undo stack is clean
        self._project_changes = False  # data, settings and runs change the project outside the undo stack
        self.recovery_file = recovery.RecoveryFile()
        opened = None
        if path is not None:
            opened = self._load(path)
        self.project = project or opened or example_project()
        spread_overlapping(self.project.design)
        self.editor = Editor(self.project.design, self)
        self.undo_stack = self.editor.undo_stack
        self.scene = CanvasScene(self.editor, self)
        self.view = CanvasView(self.scene, self)
        # the canvas and the graph inspector share the central area, each with all of its room
        self.central_tabs = QTabWidget()
        self.central_tabs.setObjectName("centralTabs")
        self.central_tabs.setDocumentMode(True)
        self.central_tabs.addTab(self.view, "Design")
        self.setCentralWidget(self.central_tabs)
        self.palette_panel = LayerPalette()
        self.properties = PropertiesPanel(self.editor)
        self.issues = IssuesPanel(self.editor)
        self.history = QUndoView(self.undo_stack)
        self.history.setObjectName("undoHistory")
        self.history.setAccessibleName("Undo history")
        self.history.setEmptyLabel("<opened>")
        self.palette_dock = self.add_dock(
            "Layers", "layerPaletteDock", self.palette_panel, Qt.DockWidgetArea.LeftDockWidgetArea
        )
        self.properties_dock = self.add_dock(
            "Properties", "propertiesDock", self.properties, Qt.DockWidgetArea.RightDockWidgetArea
        )
        self.issues_dock = self.add_dock(
            "Summary and Problems", "issuesDock", self.issues, Qt.DockWidgetArea.RightDockWidgetArea
        )
        self.history_dock = self.add_dock(
            "Undo History", "historyDock", self.history, Qt.DockWidgetArea.RightDockWidgetArea
        )
        self.splitDockWidget(self.properties_dock, self.issues_dock, Qt.Orientation.Vertical)
        self.tabifyDockWidget(self.issues_dock, self.history_dock)
        self.issues_dock.raise_()
        self._add_run_docks()
        self.resizeDocks([self.palette_dock, self.properties_dock], [240, 300], Qt.Orientation.Horizontal)
        self.resizeDocks([self.properties_dock, self.issues_dock], [420, 220], Qt.Orientation.Vertical)
        self.resizeDocks([self.training_dock, self.curves_dock], [250, 250], Qt.Orientation.Vertical)
        self.resizeDocks([self.training_dock], [430], Qt.Orientation.Horizontal)
        self.zoom_label = QLabel("100%")
        self.zoom_label.setObjectName("zoomLabel")
        self.zoom_label.setMinimumWidth(48)
        self.statusBar().addPermanentWidget(self.zoom_label)
        self._make_actions()
        self._make_menus()
        self._connect()
        self.previews = NodePreviews(self, settings)
        self.view_menu.insertAction(self.act_layout, self.previews.action)
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.write_recovery)
        self.autosave_timer.start()
        self._default_size()
        self.restore_layout()
        self._update_title()
        if opened is not None and project is None:
            self.add_recent(opened.path)
        QTimer.singleShot(0, self.view.show_design)

    def _add_run_docks(self) -> None:
        """Data, training, curves, evaluation and the graph inspector: the second half of the app."""
        self.plots = LivePlots()
        self.training_panel = TrainingPanel(self.plots)
        self.data_panel = DataPanel()
        self.evaluation = EvaluationView()
        self.inspector = GraphInspector()
        self.comparison = RunComparison()  # a central tab once asked for (Run > Compare Runs)
        left = Qt.DockWidgetArea.LeftDockWidgetArea
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        self.data_dock = self.add_dock("Data", "dataDock", _scrolled(self.data_panel), left)
        self.tabifyDockWidget(self.palette_dock, self.data_dock)
        self.palette_dock.raise_()
        self.training_dock = self.add_dock("Training", "trainingDock", _scrolled(self.training_panel), bottom)
        self.curves_dock = self.add_dock("Curves", "curvesDock", self.plots, bottom)
        self.splitDockWidget(self.training_dock, self.curves_dock, Qt.Orientation.Horizontal)
        self.evaluation_dock = self.add_dock("Evaluation", "evaluationDock", self.evaluation, bottom)
        self.central_tabs.addTab(self.inspector, "Graph Inspector")
        self.tabifyDockWidget(self.curves_dock, self.evaluation_dock)
        self.curves_dock.raise_()
        self._add_compress_dock()
        self._add_experiments_tab()
        self._fill_run_panels()

    def _add_compress_dock(self) -> None:
        """Compress: shown by its action, beside the curves."""
        self.compress_panel = CompressPanel()
        self.compress_dock = self.add_dock(
            "Compress", "compressDock", _scrolled(self.compress_panel), Qt.DockWidgetArea.BottomDockWidgetArea
        )
        self.tabifyDockWidget(self.evaluation_dock, self.compress_dock)
        self.curves_dock.raise_()  # a dock tabified last is the one shown; the curves come first
        self.compress_panel.runKept.connect(self._run_finished)
        self.compress_panel.message.connect(self.show_status)

    def _add_experiments_tab(self) -> None:
        """Experiments: a central tab, for its table and plots want the room."""
        self.experiments = ExperimentsPanel()
        self.central_tabs.addTab(self.experiments, "Experiments")
        self.experiments.sweepFinished.connect(self._sweep_finished)
        self.experiments.applyBest.connect(self._apply_best)
        self.experiments.message.connect(self.show_status)

    def experiment(self) -> None:
        self.central_tabs.setCurrentWidget(self.experiments)

    def _sweep_finished(self, run) -> None:
        if run is not None:
            self._run_finished(run)
        else:
            self._project_changed()

    def _apply_best(self, dims, values) -> None:
        """The best trial's training settings and layer parameters, as one undo step."""
        shown = lambda: self.training_panel.set_project(self.project)  # noqa: E731
        ops = apply_ops(self.project, dims, values, shown)
        if ops:
            self.editor.push("Apply the best sweep settings", ops)
        self.show_status("The best trial's settings are applied." if ops else "The best settings are in use.")

    def _fill_run_panels(self) -> None:
        self.training_panel.set_project(self.project)
        self.experiments.set_project(self.project)
        self.compress_panel.set_project(self.project)
        self.data_panel.set_project(self.project)
        last = self.project.runs[-1] if self.project.runs else None
        self.inspector.set_runs(self.project.runs)
        self.comparison.set_runs(self.project.runs)
        self.evaluation.show_run(last, self._input_shape())
        if last is not None and last.get("curves"):
            self.plots.show_run(last)
        else:
            self.plots.reset()

    def _input_shape(self):
        inputs = [n for n in self.project.design.nodes.values() if n.type == "Input"]
        return tuple(inputs[0].params.get("shape", ())) if inputs else None

    def add_dock(self, title, name, widget, area) -> QDockWidget:
        """A closable, movable dock holding `widget`; `name` keys its place in the remembered layout."""
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        self.addDockWidget(area, dock)
        if hasattr(self, "panels_menu"):  # docks added after the menus were built
            self.panels_menu.addAction(dock.toggleViewAction())
        return dock

    # ------------------------------------------------------------------ actions and menus
    def _action(self, text, slot, shortcut=None, tip=None, name=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            shortcuts = shortcut if isinstance(shortcut, list) else [shortcut]
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
        if tip:
            action.setStatusTip(tip)
        action.setObjectName(
            name or "action" + "".join(w.capitalize() for w in text.replace(".", "").split())
        )
        action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)
        return action

    def _make_actions(self) -> None:
        K = QKeySequence.StandardKey
        self.act_new = self._action("&New", self.new_empty, K.New, "Start an empty design")
        self.act_new_template = self._action(
            "New from &Template...", self.new_from_template, "Ctrl+Shift+N", "Start from a template"
        )
        self.act_new_window = self._action("New &Window", self.new_window, None, "Open another window")
        self.act_open = self._action("&Open...", self.open_dialog, K.Open, "Open a project file")
        self.act_save = self._action("&Save", self.save, K.Save, "Save the project")
        self.act_save_as = self._action(
            "Save &As...", self.save_as, K.SaveAs, "Save the project under a new name"
        )
        self.act_close = self._action("&Close Window", self.close, K.Close)
        self.act_quit = self._action("&Quit", self._quit, K.Quit)
        self.act_undo = self.undo_stack.createUndoAction(self, "&Undo")
        self.act_undo.setShortcuts([QKeySequence(K.Undo)])
        self.act_undo.setObjectName("actionUndo")
        self.act_redo = self.undo_stack.createRedoAction(self, "&Redo")
        self.act_redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.act_redo.setObjectName("actionRedo")
        self.act_history = self._action(
            "Undo &History", self.show_history, "Ctrl+Alt+Z", "Show every undo step"
        )
        self.act_cut = self._action("Cu&t", self.cut, K.Cut)
        self.act_copy = self._action("&Copy", self.copy, K.Copy)
        self.act_paste = self._action("&Paste", self.paste, K.Paste)
        self.act_duplicate = self._action("D&uplicate", self.duplicate, "Ctrl+D")
        self.act_delete = self._action(
            "&Delete", self.delete_selection, [QKeySequence(K.Delete), "Backspace"]
        )
        self.act_select_all = self._action("Select &All", self.select_all, K.SelectAll)
        self.act_rename = self._action("&Rename", self.rename_selected, "F2", "Edit the selected node's name")
        self.act_find = self._action(
            "&Find Layer...", self.palette_panel_focus, K.Find, "Search the layer palette"
        )
        self.act_zoom_in = self._action("Zoom &In", lambda: self.view.zoom_by(1.25), [K.ZoomIn, "Ctrl+="])
        self.act_zoom_out = self._action("Zoom &Out", lambda: self.view.zoom_by(0.8), K.ZoomOut)
        self.act_zoom_reset = self._action("&Actual Size", self.view.reset_zoom, "Ctrl+0")
        self.act_fit = self._action(
            "&Fit to View", self.view.fit_all, "F", "Show the whole design (or the selection)"
        )
        self.act_layout = self._action(
            "Automatic &Layout",
            self.view.auto_layout,
            "Ctrl+L",
            "Arrange the layers in columns from left to right, in rows as the view's width allows",
        )
        self.act_hand = self._action(
            "&Hand Tool",
            lambda: self.view.set_hand_tool(self.act_hand.isChecked()),
            "H",
            "Drag with the left button to pan the canvas (or hold Space while dragging)",
        )
        self.act_hand.setCheckable(True)
        self._make_canvas_keys()
        self.act_train = self._action("&Train", self.train, "F5", "Train the design on its data")
        self.act_stop = self._action("&Stop Training", self.training_panel.stop, "Shift+F5", "Stop the run")
        self.act_inspect = self._action(
            "&Inspect Graph", self.inspect_graph, "F6", "Draw the computation graph of one training step"
        )
        self.act_compress = self._action(
            "&Compress...",
            self.compress,
            None,
            "Prune and quantize a trained run, compare the variants, keep or export one",
        )
        self.act_experiments = self._action(
            "E&xperiments...",
            self.experiment,
            None,
            "Sweep training settings and layer parameters over many short runs; apply the best",
        )
        self.act_compare = self._action(
            "Compare &Runs",
            self.compare_runs,
            "Ctrl+Shift+R",
            "Overlay the curves of chosen runs and compare their settings and results",
        )
        self.act_load_weights = self._action(
            "Load &Weights...",
            self.load_weights_dialog,
            None,
            "Start the next runs from weights trained elsewhere (safetensors, or a PyTorch state dict)",
        )
        self.act_export = self._action(
            "&Export...", self.export_dialog, "Ctrl+E", "Export a script, weights or curves"
        )
        self.act_about = self._action("&About Studio", self._about)
        self.act_guide = self._action(
            "&Getting Started", self.show_guide, K.HelpContents, "A short guide, with links to the examples"
        )
        self.act_shortcuts = self._action(
            "&Keyboard and Mouse", self.show_shortcuts, "Ctrl+/", "Every key and gesture of the window"
        )

    def _make_canvas_keys(self) -> None:
        """Arrow keys go from layer to layer, Alt+arrows nudge the selection (Shift+Alt: four steps);
        they act while the canvas has the focus, so that lists and fields keep their arrow keys."""
        self.canvas_key_actions = []
        for direction in ("left", "right", "up", "down"):
            key = direction.capitalize()
            actions = (
                self._action(
                    f"Go to the Layer {key}",
                    lambda d=direction: self.view.select_neighbour(d),
                    key,
                    "Select the next layer that way",
                    name=f"actionGo{key}",
                ),
                self._action(
                    f"Nudge {key}",
                    lambda d=direction: self.view.nudge(d),
                    f"Alt+{key}",
                    "Move the selected layers a grid step",
                    name=f"actionNudge{key}",
                ),
                self._action(
                    f"Nudge {key} Far",
                    lambda d=direction: self.view.nudge(d, far=True),
                    f"Shift+Alt+{key}",
                    "Move the selected layers four grid steps",
                    name=f"actionNudgeFar{key}",
                ),
            )
            for action in actions:
                self.removeAction(action)
                action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
                self.view.addAction(action)
            self.canvas_key_actions += actions

    def _make_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addActions([self.act_new, self.act_new_template, self.act_new_window, self.act_open])
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.setObjectName("recentMenu")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addSeparator()
        file_menu.addActions([self.act_save, self.act_save_as, self.act_export])
        file_menu.addSeparator()
        file_menu.addActions([self.act_close, self.act_quit])
        edit = bar.addMenu("&Edit")
        edit.addActions([self.act_undo, self.act_redo, self.act_history])
        edit.addSeparator()
        edit.addActions([self.act_cut, self.act_copy, self.act_paste, self.act_duplicate, self.act_delete])
        edit.addSeparator()
        edit.addActions([self.act_select_all, self.act_rename, self.act_find])
        view = self.view_menu = bar.addMenu("&View")
        view.addActions([self.act_zoom_in, self.act_zoom_out, self.act_zoom_reset, self.act_fit])
        view.addSeparator()
        view.addActions([self.act_layout, self.act_hand])
        view.addSeparator()
        self.panels_menu = view.addMenu("&Panels")
        for dock in self.findChildren(QDockWidget):
            self.panels_menu.addAction(dock.toggleViewAction())
        self.view.node_actions = [
            self.act_rename,
            self.act_duplicate,
            None,
            self.act_cut,
            self.act_copy,
            self.act_delete,
        ]
        self.view.canvas_actions = [self.act_paste, self.act_select_all, None, self.act_fit, self.act_layout]
        run = bar.addMenu("&Run")
        run.addActions([self.act_train, self.act_stop, self.act_inspect, self.act_compress])
        run.addAction(self.act_experiments)
        run.addAction(self.act_compare)
        run.addSeparator()
        run.addAction(self.act_load_weights)
        toolbar = self.addToolBar("Run")
        toolbar.setObjectName("runToolbar")
        toolbar.addActions([self.act_train, self.act_stop, self.act_inspect, self.act_export])
        help_menu = bar.addMenu("&Help")
        help_menu.addActions([self.act_guide, self.act_shortcuts])
        examples = help_menu.addMenu("&Examples")
        examples.setObjectName("examplesMenu")
        for name, title, description, _path in list_templates():
            action = examples.addAction(title)
            action.setStatusTip(description)
            action.setObjectName(f"example_{name}")
            action.triggered.connect(lambda _checked=False, n=name: self.open_example(n))
        help_menu.addSeparator()
        help_menu.addAction(self.act_about)

    def _connect(self) -> None:
        self.scene.selectionChanged.connect(self._selection_changed)
        self.scene.message.connect(self.show_status)
        self.scene.nodeActivated.connect(self.rename_selected)
        self.editor.message.connect(self.show_status)
        self.issues.nodeRequested.connect(self.view.centre_on_node)
        self.palette_panel.layerActivated.connect(self.add_layer_after_selection)
        self.view.fileDropped.connect(self.open_path)
        self.view.zoomChanged.connect(self._show_zoom)
        self.undo_stack.cleanChanged.connect(self._update_title)
        self.undo_stack.indexChanged.connect(self._update_edit_actions)
        self.training_panel.settingsChanged.connect(self._project_changed)
        self.training_panel.runFinished.connect(self._run_finished)
        self.training_panel.runStarted.connect(self._run_started)
        self.training_panel.message.connect(self.show_status)
        self.data_panel.dataChanged.connect(self._data_changed)
        self.data_panel.message.connect(self.show_status)
        self.inspector.inspectRequested.connect(self.inspect_graph)
        # the inspector follows the design, the data and the settings (they change through the undo
        # stack and the training panel) once it has drawn something, after a short pause
        self._inspection_wanted = False  # the inspector has been asked for: it follows changes
        self._inspection_dirty = False  # a change it has not followed yet
        self._inspect_timer = QTimer(self)
        self._inspect_timer.setSingleShot(True)
        self._inspect_timer.setInterval(REFRESH_MS)
        self._inspect_timer.timeout.connect(self._refresh_inspection)
        self.undo_stack.indexChanged.connect(self._inspection_stale)
        self.undo_stack.indexChanged.connect(self._design_edited)
        self.training_panel.settingsChanged.connect(self._inspection_stale)
        self.central_tabs.currentChanged.connect(lambda _i: self._refresh_inspection())
        self._selection_changed()

    # ------------------------------------------------------------------ state shown in the chrome
    def is_modified(self) -> bool:
        return self._restored_changes or self._project_changes or not self.undo_stack.isClean()

    def _project_changed(self) -> None:
        self._project_changes = True
        self._update_title()

    # ------------------------------------------------------------------ data, training, inspection
    def train(self) -> None:
        self.training_dock.show()
        self.training_dock.raise_()
        self.training_panel.start()

    def compress(self) -> None:
        self.compress_panel.refresh_runs()
        self.compress_dock.show()
        self.compress_dock.raise_()
        # the table of variants wants the width: the dock takes most of the bottom row when it opens
        self.resizeDocks([self.compress_dock], [int(self.width() * 0.62)], Qt.Orientation.Horizontal)

    def compare_runs(self) -> None:
        """The project's runs side by side, in a tab of the central area."""
        if self.central_tabs.indexOf(self.comparison) < 0:
            self.central_tabs.addTab(self.comparison, "Compare Runs")
        self.central_tabs.setCurrentWidget(self.comparison)

    def _run_started(self) -> None:
        self.curves_dock.show()
        self.curves_dock.raise_()

    def _run_finished(self, run) -> None:
        self.evaluation.show_run(run, self._input_shape())
        self.inspector.set_runs(self.project.runs)
        self.comparison.set_runs(self.project.runs)
        self.compress_panel.refresh_runs(select=run.get("id"))
        self._project_changed()
        self._inspection_stale()
        self.previews.schedule()

    def _data_changed(self, data, input_shape, num_classes, task) -> None:
        """The data panel chose other data: keep it, and make the design's Input and Output follow it,
        as one undo step."""
        from studio.design.follow import follow_data

        old, new = dict(self.project.data), dict(data)
        dtype = "int64" if data.get("kind") == "sample" and data.get("sample") == "tokens" else "float32"
        design = self.editor.design
        ops = [
            SetParamOp(node_id, name, design.nodes[node_id].params.get(name), value)
            for node_id, name, value in follow_data(design, input_shape, num_classes, task, dtype)
        ]
        if old == new and not ops:
            return
        source = (new.get("kind"), new.get("sample"), new.get("path"))
        same_source = source == (old.get("kind"), old.get("sample"), old.get("path"))
        if same_source and not ops:
            # settings of the same data (split, seed, columns...): consecutive edits are one step
            self.editor.push(
                "Change the data settings", [_SetDataOp(self, old, new)], merge_key=("data", source)
            )
            return
        name = new.get("sample") if new.get("kind") == "sample" else Path(str(new.get("path") or "")).name
        self.editor.push(f"Use the {name} data", [_SetDataOp(self, old, new), *ops])

    def inspect_graph(self, show: bool = True) -> None:
        """Draw the graph of the loss with the chosen weights (a run's, or fresh ones in a training step);
        the data is read and the step run away from the GUI thread."""
        from studio.design.project import project_from_dict
        from studio.training.inspect import inspect_project

        from .background import Background

        if show:
            self.central_tabs.setCurrentWidget(self.inspector)
        self._inspection_wanted, self._inspection_dirty = True, False
        problems = self.project.design.infer().problems
        if problems:
            text = f"{DESIGN_PROBLEM}: {problems[0].message}"
            self.inspector.summary.setText(text)
            self.show_status(text)
            return
        if getattr(self, "_inspection_job", None) is None:
            self._inspection_job = Background(self, "studio-inspect")
        # the thread works on a copy: edits made meanwhile do not reach it half-way
        snapshot = project_from_dict(self.project.to_dict(), self.project.path)
        self.inspector.summary.setText("Inspecting: reading the data and running the model...")
        run = self.inspector.chosen_run()
        self._inspection_job.run(inspect_project, self._show_inspection, snapshot, 16, run)

    def _design_edited(self, *_ignored) -> None:
        """Messages about a design problem go once the problem is gone."""
        self.training_panel.design_changed()
        bar = self.statusBar()
        if bar.currentMessage().startswith(DESIGN_PROBLEM) and not self.project.design.infer().problems:
            bar.clearMessage()

    def _inspection_stale(self, *_ignored) -> None:
        if self._inspection_wanted:
            self._inspection_dirty = True
            self._inspect_timer.start()

    def _refresh_inspection(self) -> None:
        """Inspect again after a change, when the inspector is in view (else once it comes into view)."""
        if self._inspection_dirty and self.central_tabs.currentWidget() is self.inspector:
            self.inspect_graph(show=False)

    def _show_inspection(self, inspection, error) -> None:
        from studio.training import DataError

        if error is not None:
            if not isinstance(error, (DataError, RuntimeError, ValueError, OSError)):
                raise error
            self.inspector.summary.setText(f"Cannot inspect: {error}")
            self.show_status(f"Cannot inspect: {error}")
            return
        self.inspector.show_inspection(inspection)

    def export_dialog(self) -> None:
        from .export_dialog import ExportDialog

        ExportDialog(self.project, self).exec()

    def _show_zoom(self, zoom: float) -> None:
        self.zoom_label.setText(f"{round(zoom * 100)}%")

    def _update_title(self, *_ignored) -> None:
        name = Path(self.project.path).name if self.project.path else (self.project.name or "Untitled")
        if not self.project.path and self.project.name:
            name = f"{name} (unsaved)"
        self.setWindowTitle(f"{name}[*] — {APP_NAME}")
        self.setWindowModified(self.is_modified())

    def _selection_changed(self) -> None:
        ids = self.scene.selected_node_ids()
        self.properties.set_selection(ids)
        if len(ids) == 1:
            self.experiments.set_selected_node(ids[0])
        self._update_edit_actions()

    def _update_edit_actions(self, *_ignored) -> None:
        has_nodes = bool(self.scene.selected_node_ids())
        for action in (self.act_cut, self.act_copy, self.act_duplicate, self.act_rename):
            action.setEnabled(has_nodes)
        self.act_delete.setEnabled(has_nodes or bool(self.scene.selected_edges()))

    def show_status(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    # ------------------------------------------------------------------ editing
    def add_layer_after_selection(self, type_: str) -> str | None:
        """Palette double-click: add after the selected node, connected, or in the middle of the view."""
        selected = self.scene.selected_node_ids()
        if len(selected) == 1:
            pos = self.editor.free_position_after(selected[0])
            node_id = self.editor.add_node(type_, pos, after=selected[0])
        else:
            centre = self.view.visible_center()
            node_id = self.editor.add_node(type_, (round(centre.x()), round(centre.y())))
        if node_id is not None:
            self.scene.select_nodes([node_id])
            item = self.scene.nodes[node_id]
            self.view.ensureVisible(item, 40, 40)
        return node_id

    def delete_selection(self) -> None:
        self.editor.delete(self.scene.selected_node_ids(), self.scene.selected_edges())

    def copy(self) -> None:
        if self.editor.copy(self.scene.selected_node_ids()):
            self.show_status(f"Copied {len(self.scene.selected_node_ids())} node(s)")

    def cut(self) -> None:
        ids = self.scene.selected_node_ids()
        if self.editor.copy(ids):
            self.editor.delete(
                ids, (), text="Cut" if len(ids) > 1 else f"Cut {self.editor.design.nodes[ids[0]].name}"
            )

    def paste(self) -> None:
        data = clipboard_nodes()
        if data is None:
            self.show_status("Nothing to paste: copy some nodes first")
            return
        offset = (40.0, 40.0)
        cursor = self.view.mapFromGlobal(self.view.cursor().pos())
        positions = [n.get("pos", (0, 0)) for n in data.get("nodes", []) if isinstance(n, dict)]
        if self.view.viewport().rect().contains(cursor) and positions:
            # paste under the mouse when it is over the canvas
            at = self.view.mapToScene(cursor)
            cx = sum(p[0] for p in positions) / len(positions)
            cy = sum(p[1] for p in positions) / len(positions)
            offset = (round(at.x() - cx), round(at.y() - cy))
        ids = self.editor.paste(data, offset=offset)
        self.scene.select_nodes(ids)

    def duplicate(self) -> None:
        self.scene.select_nodes(self.editor.duplicate(self.scene.selected_node_ids()))

    def select_all(self) -> None:
        self.scene.select_nodes(list(self.scene.nodes))

    def rename_selected(self, *_ignored) -> None:
        if self.properties.name_edit is not None:
            self.properties_dock.show()
            self.properties_dock.raise_()
            self.properties.name_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
            self.properties.name_edit.selectAll()

    def show_history(self) -> None:
        self.history_dock.show()
        self.history_dock.raise_()

    def palette_panel_focus(self) -> None:
        self.palette_dock.show()
        self.palette_dock.raise_()
        self.palette_panel.focus_search()

    # ------------------------------------------------------------------ files
    def set_project(self, project, modified: bool = False) -> None:
        """Show another project; its undo history starts empty."""
        if self.training_panel.running:
            self.training_panel.shutdown()
        if self.project is not project:
            discard_unsaved(self.project)  # its runs went with it when it was saved, or are discarded
        self.project = project
        self._restored_changes = modified
        self._project_changes = False
        spread_overlapping(project.design)
        self.editor.set_design(project.design)
        self._update_title()
        self._selection_changed()
        self._inspection_wanted = self._inspection_dirty = False
        self.inspector.clear()
        self._fill_run_panels()
        self.view.show_design()
        self.previews.reset()

    def _load(self, path):
        """The project at `path`, or None after telling the user why it cannot be opened."""
        try:
            return load_project(path)
        except ProjectError as exc:
            self.show_error("Cannot open project", f"{Path(path).name} cannot be opened.", str(exc))
            return None

    def open_path(self, path) -> bool:
        """Open a project file (or import an ONNX model) in this window; a bad file changes nothing."""
        if Path(path).suffix.lower() == ".onnx":
            return self.import_onnx(path)
        project = self._load(path)
        if project is None:
            return False
        if not self.maybe_save():
            return False
        self.set_project(project)
        self.recovery_file.remove()
        self.add_recent(project.path)
        self.show_status(f"Opened {project.path}")
        return True

    def open_dialog(self) -> None:
        path = file_dialogs.open_file(self, "Open Project", OPEN_FILTER)
        if path:
            self.open_path(path)

    def import_onnx(self, path, output=None) -> bool:
        """An ONNX model as a new project, saved where the user chooses (beside the model by default)."""
        from studio.design.onnx_import import OnnxImportError, project_from_onnx

        if not self.maybe_save():
            return False
        if output is None:
            start = str(Path(path).with_suffix(".studio"))  # beside the model
            output = file_dialogs.save_file(self, "Save the Imported Project As", start, FILE_FILTER)
            if not output:
                return False
        try:
            project_from_onnx(path, output)
        except (OnnxImportError, ProjectError, OSError, ValueError) as exc:
            self.show_error("Cannot import ONNX model", f"{Path(path).name} cannot be imported.", str(exc))
            return False
        self._project_changes = False
        self.undo_stack.setClean()
        opened = self.open_path(output)
        if opened:
            self.show_status(f"Imported {Path(path).name}: its weights are run 1 of {Path(output).name}")
        return opened

    def load_weights_dialog(self) -> None:
        path = file_dialogs.open_file(self, "Load Weights", WEIGHTS_FILTER)
        if path:
            self.load_weights(path)

    def load_weights(self, path):
        """Match a weights file to the design; the next runs start from what fits. Returns the match."""
        from studio.design.build import BuildError, build
        from studio.design.init_weights import WeightsError, match_weights, read_weights

        try:
            match = match_weights(build(self.project.design), read_weights(path), Path(path).name)
        except (BuildError, WeightsError) as exc:
            self.show_error("Cannot load weights", f"{Path(path).name} cannot be used.", str(exc))
            return None
        if not match.arrays:
            self.show_error(
                "Cannot load weights", f"Nothing in {Path(path).name} fits the design.", match.report()
            )
            return None
        total = len(match.arrays) + len(match.mismatched) + len(match.missing)
        # the full report (what did not match) stays on the panel's note, as its tooltip
        self.training_panel.set_init_weights(path, f"{len(match.arrays)} of {total} tensors", match.report())
        self.show_status(match.report().splitlines()[0] + "; the next runs start from them")
        return match

    def new_empty(self) -> None:
        if self.maybe_save():
            self.set_project(new_project())

    def new_from_template(self) -> None:
        from .gallery import TemplateGallery

        gallery = TemplateGallery(self)
        if gallery.exec() != TemplateGallery.DialogCode.Accepted or gallery.chosen is None:
            return
        if gallery.chosen == "":
            self.new_empty()
            return
        self.open_example(gallery.chosen)

    def open_example(self, name: str) -> bool:
        """A template (an example) as a new, unsaved project in this window."""
        try:
            project = load_template(name)
        except ProjectError as exc:
            self.show_error("Cannot open template", f"The template {name!r} cannot be read.", str(exc))
            return False
        if not self.maybe_save():
            return False
        self.set_project(project)
        return True

    def show_guide(self) -> None:
        from .help import GuideDialog

        dialog = GuideDialog([t[:3] for t in list_templates()], self)
        dialog.exampleRequested.connect(self.open_example)
        self._dialog = dialog  # kept for tests and for the window's lifetime of the dialog
        dialog.show()

    def all_actions(self) -> list:
        """Every action of the window: the menus' in menu order, then the others (the canvas keys)."""
        found: list = []

        def walk(menu):
            for action in menu.actions():
                if action.menu() is not None:
                    walk(action.menu())
                elif not action.isSeparator() and action not in found:
                    found.append(action)

        for action in self.menuBar().actions():
            if action.menu() is not None:
                walk(action.menu())
        rest = self.actions() + self.view.actions()
        return found + [a for a in rest if a not in found]

    def show_shortcuts(self) -> None:
        from .canvas import GESTURES
        from .help import ShortcutsDialog

        self._dialog = ShortcutsDialog(self.all_actions(), GESTURES, self)
        self._dialog.show()

    def new_window(self, project=None) -> MainWindow:
        """Another window (the example project unless given one); it lives until the user closes it."""
        window = MainWindow(project=project)
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        _open_windows.add(window)
        window.destroyed.connect(lambda *_: _open_windows.discard(window))
        window.show()
        return window

    def save(self) -> bool:
        if not self.project.path:
            return self.save_as()
        return self.save_to(self.project.path)

    def save_as(self) -> bool:
        name = f"{self.project.name or 'untitled'}.studio"
        name = Path(self.project.path).name if self.project.path else name
        path = file_dialogs.save_file(self, "Save Project As", name.replace(" ", "_"), FILE_FILTER)
        if not path:
            return False
        if not path.endswith(".studio"):
            path += ".studio"
        return self.save_to(path)

    def save_to(self, path) -> bool:
        """Save the project, taking its runs' weights along into its own runs folder."""
        try:
            save_with_runs(self.project, path)
        except (ProjectError, OSError, ValueError) as exc:
            self.show_error("Cannot save project", f"The project could not be saved to {path}.", str(exc))
            return False
        self._restored_changes = False
        self._project_changes = False
        self.undo_stack.setClean()
        self.recovery_file.remove()
        self.add_recent(self.project.path)
        self._update_title()
        self.show_status(f"Saved {self.project.path}")
        return True

    def maybe_save(self) -> bool:
        """Before the open project goes away: True when it may (saved, discarded or unchanged)."""
        if not self.is_modified():
            return True
        answer = self.ask_save()
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def ask_save(self) -> QMessageBox.StandardButton:
        name = Path(self.project.path).name if self.project.path else "this project"
        return QMessageBox.question(
            self,
            "Unsaved changes",
            f"Save the changes to {name} before closing it?",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )

    def show_error(self, title: str, text: str, details: str = "") -> None:
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self)
        if details:
            box.setInformativeText(details if len(details) < 600 else details[:600] + "...")
            box.setDetailedText(details)
        box.exec()

    # recent files
    def recent_files(self) -> list[str]:
        value = settings().value("recentFiles", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def add_recent(self, path) -> None:
        if not path:
            return
        path = str(Path(path).resolve())
        files = [path] + [p for p in self.recent_files() if p != path]
        settings().setValue("recentFiles", files[:MAX_RECENT])

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        files = self.recent_files()
        for i, path in enumerate(files):
            label = f"&{i + 1} {Path(path).name}" if i < 9 else Path(path).name
            action = self.recent_menu.addAction(label)
            action.setToolTip(path)
            action.setStatusTip(path)
            action.setEnabled(Path(path).is_file())
            action.triggered.connect(lambda _checked=False, path=path: self.open_path(path))
        if not files:
            self.recent_menu.addAction("No recent projects").setEnabled(False)
        self.recent_menu.addSeparator()
        self.recent_menu.addAction("Clear Recent", lambda: settings().setValue("recentFiles", []))

    # recovery
    def write_recovery(self) -> None:
        """Autosave: keep a recovery copy of unsaved work (and none when everything is saved)."""
        if self.is_modified():
            self.recovery_file.write(self.project)
        else:
            self.recovery_file.remove()

    def offer_recovery(self) -> None:
        """After a crash: offer to restore each recovery copy the crashed session left. A damaged note
        is reported and skipped; nothing here stops the app from starting."""
        try:
            entries, problems = recovery.scan()
        except OSError as exc:
            entries, problems = [], [f"the recovery folder cannot be read ({exc})"]
        if problems:
            self.show_status("Recovery: " + "; ".join(problems))
        for i, entry in enumerate(entries):
            original = Path(entry["original"]).name if entry.get("original") else "an unsaved project"
            answer = QMessageBox.question(
                self,
                "Recover unsaved work",
                f"Studio closed unexpectedly while {original} had unsaved changes. Restore them?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Discard,
                QMessageBox.StandardButton.Yes,
            )
            if answer == QMessageBox.StandardButton.Yes:
                try:
                    project = recovery.restore(entry)
                except ProjectError as exc:
                    self.show_error("Cannot recover", "The recovery copy cannot be read.", str(exc))
                    continue
                target = self
                if i > 0 or self.is_modified() or self.project.path is not None:
                    target = self.new_window(project)
                target.set_project(project, modified=True)
                target.write_recovery()
            recovery.discard(entry)

    # ------------------------------------------------------------------ window
    def _default_size(self) -> None:
        """A first-run size that fits small screens (1366x768) and does not sprawl on big ones."""
        screen = self.screen() or QApplication.primaryScreen()
        if screen is None:
            self.resize(1280, 760)
            return
        available = screen.availableGeometry()
        # a small screen is used whole, so that the canvas keeps room for a readable design
        w, h = available.width(), available.height()
        self.resize(w if w < 1500 else min(1440, int(w * 0.92)), h if h < 900 else min(900, int(h * 0.92)))

    def restore_layout(self) -> None:
        s = settings()
        geometry = s.value("window/geometry")
        state = s.value("window/state")
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)

    def save_layout(self) -> None:
        s = settings()
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())

    def closeEvent(self, event) -> None:
        focused = QApplication.focusWidget()
        if focused is not None and self.isAncestorOf(focused):
            focused.clearFocus()  # a field being edited commits its value before we check for changes
        if not self.maybe_save():
            event.ignore()
            return
        self.save_layout()
        self.training_panel.shutdown()
        self.compress_panel.shutdown()
        self.experiments.shutdown()
        self.autosave_timer.stop()
        self.recovery_file.close()
        discard_unsaved(self.project)
        for part in (self.scene, self.properties, self.issues):
            part.detach()
        release_legends(self)
        event.accept()

    def _quit(self) -> None:
        QApplication.closeAllWindows()

    def changeEvent(self, event) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self.scene.apply_palette()
            self.view.resetCachedContent()
        super().changeEvent(event)

    @staticmethod
    def _dropped(event):
        """The first local path of a drop this window takes: a project, a CSV file or an image folder."""
        for url in event.mimeData().urls():
            if not url.isLocalFile():
                continue
            path = Path(url.toLocalFile())
            if path.suffix.lower() in (".studio", ".csv") or path.is_dir():
                return path
        return None

    def dragEnterEvent(self, event) -> None:
        if self._dropped(event) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        path = self._dropped(event)
        if path is None:
            return
        event.acceptProposedAction()
        # after the drop returns, so the drag source is released before any dialog shows
        QTimer.singleShot(0, lambda: self.open_dropped(path))

    def open_dropped(self, path) -> None:
        """A project opens; a CSV file or an image folder becomes the project's data."""
        path = Path(path)
        if path.suffix.lower() == ".studio":
            self.open_path(str(path))
            return
        self.data_dock.show()
        self.data_dock.raise_()
        if path.is_dir():
            self.data_panel.use_folder(path)
        else:
            self.data_panel.use_csv(path)

    def _about(self) -> None:
        QMessageBox.about(
            self,
            f"About {APP_NAME}",
            f"<b>{APP_NAME}</b><br>Design, train and inspect neural networks visually, on a PyTorch-like "
            "engine of its own.",
        )
