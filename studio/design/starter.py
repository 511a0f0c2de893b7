"""Starting points: designs sized to a data source (templates, `studio new`)."""

from __future__ import annotations

from pathlib import Path

from .document import Design
from .samples import SAMPLE_INFO

# ---------------------------------------------------------------------------------------------------
# Designs
# ---------------------------------------------------------------------------------------------------


# The canvas grid: studio.ui.layout.STEP (a 184 x 72 node plus room for the edge's shape label). Copied
# rather than imported so that studio.design stays free of the UI; tests check the two agree.
GRID_STEP = (280.0, 112.0)


class _Chain:
    """Adds nodes left to right on the canvas grid, connecting each to the previous one."""

    def __init__(self, design: Design, x=0.0, y=0.0, dx=GRID_STEP[0]):
        self.d, self.x, self.y, self.dx = design, x, y, dx
        self.last = None

    def add(self, type_, params=None, name=None, src=None, port=0):
        node = self.d.add_node(type_, params, name, (self.x, self.y))
        self.x += self.dx
        src = self.last if src is None else src
        if src is not None and node.spec.inputs:
            self.d.connect(src.id, node.id, 0, port)
        self.last = node
        return node

    @classmethod
    def starting(cls, shape, dtype="float32", name="inputs") -> _Chain:
        """A chain in a new design, begun with its Input."""
        chain = cls(Design())
        params = {"shape": tuple(shape)} if dtype == "float32" else {"shape": tuple(shape), "dtype": dtype}
        chain.add("Input", params, name)
        return chain


def _output(c: _Chain, classes: int, task: str = "classification") -> Design:
    """The head and the Output that end a chain; its design."""
    out = classes if task == "classification" else 1
    c.add("Linear", {"out_features": out}, "head")
    loss = "cross_entropy" if task == "classification" else "mse"
    c.add("Output", {"task": task, "loss": loss}, "output")
    return c.d


def mlp_design(in_features: int, classes: int, task="classification", hidden=None) -> Design:
    """Two hidden layers, width sized to the data."""
    hidden = hidden or max(16, min(128, 1 << (2 * in_features - 1).bit_length()))
    c = _Chain.starting((in_features,))
    c.add("Linear", {"out_features": hidden}, "hidden1")
    c.add("ReLU", None, "relu1")
    c.add("Linear", {"out_features": hidden}, "hidden2")
    c.add("ReLU", None, "relu2")
    return _output(c, classes, task)


def lenet_design(in_shape, classes: int) -> Design:
    """Two convolution-pooling stages then two linear layers, LeNet style."""
    c = _Chain.starting(in_shape)
    c.add("Conv2d", {"out_channels": 6, "kernel_size": 3, "padding": 1}, "conv1")
    c.add("ReLU", None, "relu1")
    c.add("MaxPool2d", {"kernel_size": 2}, "pool1")
    c.add("Conv2d", {"out_channels": 16, "kernel_size": 3, "padding": 1}, "conv2")
    c.add("ReLU", None, "relu2")
    c.add("MaxPool2d", {"kernel_size": 2}, "pool2")
    if max(in_shape[1], in_shape[2]) // 4 > 8:  # large images: a fixed-size summary keeps fc1 small
        c.add("AdaptiveAvgPool2d", {"output_size": (8, 8)}, "summary")
    c.add("Flatten", None, "flatten")
    c.add("Linear", {"out_features": 64}, "fc1")
    c.add("ReLU", None, "relu3")
    return _output(c, classes)


def resnet_design(in_shape: tuple, classes: int, width: int = 16) -> Design:
    """A stem convolution, one residual block with a skip connection, pooling and a linear head."""
    c = _Chain.starting(in_shape)
    c.add("Conv2d", {"out_channels": width, "kernel_size": 3, "padding": 1}, "stem")
    stem = c.add("ReLU", None, "stem_relu")
    # the residual branch runs half a row above the skip connection, as the automatic layout puts it
    # (so that a window may fold the design into rows to suit its view)
    c.y = -GRID_STEP[1] / 2
    c.add("Conv2d", {"out_channels": width, "kernel_size": 3, "padding": 1, "bias": False}, "block_conv1")
    c.add("BatchNorm2d", None, "block_bn1")
    c.add("ReLU", None, "block_relu")
    c.add("Conv2d", {"out_channels": width, "kernel_size": 3, "padding": 1, "bias": False}, "block_conv2")
    c.add("BatchNorm2d", None, "block_bn2")
    c.y = 0.0
    add = c.add("Add", None, "skip")
    c.d.connect(stem.id, add.id, 0, 1)
    c.add("ReLU", None, "block_out")
    c.add("MaxPool2d", {"kernel_size": 2}, "pool")
    c.add("Flatten", None, "flatten")
    return _output(c, classes)


def lstm_design(in_shape, classes: int, hidden=32) -> Design:
    """An LSTM over the sequence whose last step feeds a linear classifier."""
    c = _Chain.starting(in_shape)
    c.add("LSTM", {"hidden_size": hidden, "output": "last"}, "lstm")
    return _output(c, classes)


def transformer_design(length: int, vocab: int, classes: int, dim=32) -> Design:
    """Token embedding, a two-layer Transformer encoder, then a linear classifier on the flat sequence."""
    c = _Chain.starting((length,), "int64", "tokens")
    c.add("Embedding", {"num_embeddings": vocab, "embedding_dim": dim}, "embed")
    c.add(
        "TransformerEncoder",
        {"num_layers": 2, "nhead": 4, "dim_feedforward": 2 * dim, "dropout": 0.1},
        "encoder",
    )
    c.add("Flatten", None, "flatten")
    return _output(c, classes)


def default_design(info: dict, data: dict | None = None) -> Design:
    """A first model sized to the data: MLP for tables, CNN for images, LSTM or Transformer for sequences."""
    shape, task, classes = tuple(info["input_shape"]), info["task"], int(info.get("num_classes") or 1)
    if data and data.get("kind") == "sample" and data.get("sample") == "tokens":
        return transformer_design(shape[0], SAMPLE_INFO["tokens"]["vocab"], classes)
    if len(shape) == 3:
        return lenet_design(shape, classes)
    if len(shape) == 2:
        return lstm_design(shape, classes)
    return mlp_design(shape[0], classes, task)


_IRIS = "A small multilayer perceptron that tells three iris species apart from four measurements."
_LENET = "A LeNet-style convolutional network for 8x8 handwritten digits."
_RESNET = "A small convolutional network with one residual block (a skip connection) for 8x8 digits."
_LSTM = "An LSTM that classifies noisy waves by their frequency, reading the sequence step by step."
_TRANSFORMER = (
    "A small Transformer encoder that classifies token sequences with embeddings and self-attention."
)


def template_projects() -> dict:
    """The shipped templates, made from the designs above (studio/assets/templates/*.studio hold them)."""
    from .project import new_project

    seq, tok = SAMPLE_INFO["sequences"], SAMPLE_INFO["tokens"]
    # name: (title, description, sample, design, (epochs, learning rate, batch size))
    specs = {
        "iris_mlp": ("Iris MLP", _IRIS, "iris", mlp_design(4, 3), (60, 0.01, 16)),
        "digits_lenet": ("Digits LeNet", _LENET, "digits", lenet_design((1, 8, 8), 10), (15, 0.005, 32)),
        "digits_resnet": (
            "Digits residual CNN",
            _RESNET,
            "digits",
            resnet_design((1, 8, 8), 10),
            (10, 0.005, 32),
        ),
        "sequence_lstm": (
            "Sequence LSTM",
            _LSTM,
            "sequences",
            lstm_design(seq["input_shape"], seq["num_classes"]),
            (15, 0.005, 32),
        ),
        "tokens_transformer": (
            "Token Transformer",
            _TRANSFORMER,
            "tokens",
            transformer_design(tok["input_shape"][0], tok["vocab"], tok["num_classes"]),
            (10, 0.002, 32),
        ),
    }
    out = {}
    for key, (title, description, sample, design, (epochs, lr, batch)) in specs.items():
        data = {"kind": "sample", "sample": sample, **({} if sample == "iris" else {"preprocessing": "none"})}
        training = {"epochs": epochs, "lr": lr, "batch_size": batch}
        project = new_project(data=data, training=training, design=design, name=title)
        project.description = description
        out[key] = project
    return out


def write_templates(folder=None) -> list:
    """Write every template project into `folder` (default: studio/assets/templates); returns the paths."""
    from .project import TEMPLATES_DIR, save_project

    folder = Path(folder) if folder is not None else TEMPLATES_DIR
    return [save_project(p, folder / f"{name}.studio") for name, p in template_projects().items()]
