"""Help inside the app: a getting-started guide that links to the examples, and the keyboard and mouse
shortcuts, listed from the window's own actions so that the list never drifts from what the keys do."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
)

EXAMPLE_SCHEME = "example"  # guide links "example:NAME" open the template NAME

GUIDE = """
<h2>Getting started</h2>
<p>Studio designs a neural network as a graph of layers, trains it on your data and shows how it does.</p>
<h3>1. Start from an example</h3>
<p>Each example is a complete project: a design, its data and training settings.</p>
{examples}
<p>Or choose <b>File &gt; New from Template...</b>, or <b>File &gt; New</b> for an empty design.</p>
<h3>2. Design</h3>
<ul>
<li>Drag a layer from the <b>Layers</b> panel onto the canvas; drop it onto a connection to insert it
there. Double-click a layer in the panel to add it after the selected one.</li>
<li>Drag from a layer's output port (right) to another's input port (left) to connect them; dragging
onto an input that is already connected replaces that connection.</li>
<li>Select a layer to edit its settings in <b>Properties</b>. Shapes are checked as you go; the
<b>Summary and Problems</b> panel says what is wrong and where.</li>
<li>Pan with Space+drag, the middle button or the hand tool (H); zoom with the wheel; press F to fit
the design and Ctrl+L to lay it out again. Arrow keys go from layer to layer.</li>
<li>Under each layer a preview shows what it outputs for one example of the data (feature maps,
values, attention), with the newest run's trained weights or fresh ones; the bar on the canvas picks
the example, and <b>View &gt; Layer Previews</b> hides them. Hover a preview to see it larger.</li>
</ul>
<h3>3. Data</h3>
<p>In the <b>Data</b> panel choose a sample data set, a CSV file or a folder of images (one sub-folder
per class). The design's input and output follow the data.</p>
<h3>4. Train and judge</h3>
<p>Press <b>Train</b> (F5). The <b>Curves</b> show the loss as it falls; <b>Stop</b> (Shift+F5) ends a
run early and keeps what it learnt. <b>Evaluation</b> shows the confusion matrix, per-class scores and
the examples the model got wrong; <b>Run &gt; Inspect Graph</b> (F6) draws the computation graph with
the trained weights. <b>Run &gt; Experiments</b> trains many short runs with settings and layer
sizes varied, shows which did best, and applies its settings.</p>
<h3>5. Keep and share</h3>
<p>Save the project (Ctrl+S); its runs' weights are kept beside it. <b>File &gt; Export</b> writes a
PyTorch script, the weights, the curves or an ONNX model.</p>
"""


def guide_html(examples) -> str:
    """The guide, with a link to each example: `examples` are (name, title, description)."""
    items = "".join(
        f'<li><a href="{EXAMPLE_SCHEME}:{name}">{title}</a>: {description}</li>'
        for name, title, description in examples
    )
    return GUIDE.format(examples=f"<ul>{items}</ul>")


class GuideDialog(QDialog):
    """The getting-started guide; a click on an example emits `exampleRequested(name)`."""

    exampleRequested = Signal(str)

    def __init__(self, examples, parent=None):
        super().__init__(parent)
        self.setObjectName("gettingStarted")
        self.setWindowTitle("Getting Started")
        self.text = QTextBrowser()
        self.text.setOpenLinks(False)
        self.text.setHtml(guide_html(examples))
        self.text.anchorClicked.connect(self._link)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.text)
        lay.addWidget(buttons)
        self.resize(620, 640)

    def _link(self, url) -> None:
        if url.scheme() == EXAMPLE_SCHEME:
            self.exampleRequested.emit(url.path())
            self.accept()


# actions whose text changes with what they would do ("Undo Rename conv1")
STABLE_NAMES = {"actionUndo": "Undo", "actionRedo": "Redo"}


def action_name(action) -> str:
    """An action's text as a person reads it (no mnemonic ampersands, no trailing dots)."""
    return action.text().replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip(".")


def shortcut_rows(actions) -> list[tuple[str, str]]:
    """(action, keys) for each action that has a key, in the order given, each action once."""
    rows, seen = [], set()
    for action in actions:
        native = QKeySequence.SequenceFormat.NativeText
        keys = [k.toString(native) for k in action.shortcuts() if not k.isEmpty()]
        name = STABLE_NAMES.get(action.objectName()) or action_name(action)
        if keys and name and name not in seen:
            seen.add(name)
            rows.append((name, ", ".join(keys)))
    return rows


class ShortcutsDialog(QDialog):
    """Every key of the window's actions, then the mouse gestures of the canvas."""

    def __init__(self, actions, gestures, parent=None):
        super().__init__(parent)
        self.setObjectName("keyboardShortcuts")
        self.setWindowTitle("Keyboard and Mouse")
        rows = shortcut_rows(actions) + [(what, how) for how, what in gestures]
        self.table = QTableWidget(len(rows), 2)
        self.table.setObjectName("shortcutTable")
        self.table.setHorizontalHeaderLabels(["Action", "Keys or gesture"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for r, (name, keys) in enumerate(rows):
            self.table.setItem(r, 0, QTableWidgetItem(name))
            self.table.setItem(r, 1, QTableWidgetItem(keys))
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        note = QLabel("Arrow keys and Alt+arrows act while the canvas has the focus.")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(note)
        lay.addWidget(self.table, 1)
        lay.addWidget(buttons)
        self.resize(560, 620)
