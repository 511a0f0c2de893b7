"""The usage counter: imports and aliases, attribute chains, imported members and Tensor method calls."""

from __future__ import annotations

import json

from benchmarks import api_coverage
from benchmarks.api_usage_count import count_source, main, update

NAMES = {
    "torch": ["cuda", "manual_seed", "nn", "no_grad", "optim", "tensor", "utils", "zeros"],
    "torch.nn": ["Linear", "Module", "functional", "init"],
    "torch.nn.functional": ["relu", "softmax"],
    "torch.Tensor": ["backward", "item", "relu", "size", "split", "sum", "to", "view"],
    "torch.optim": ["Adam", "SGD", "lr_scheduler"],
    "torch.utils.data": ["DataLoader", "Dataset"],
}


def _count(source):
    return count_source(source, NAMES)


def test_imports_and_aliases_resolve_to_their_namespaces():
    counts = _count(
        "import torch\n"
        "import torch.nn as nn\n"
        "import torch.nn.functional as F\n"
        "from torch import optim\n"
        "from torch.optim import Adam\n"
        "from torch.utils.data import DataLoader as DL\n"
        "layer = nn.Linear(2, 3)\n"
        "y = F.relu(torch.zeros(3))\n"
        "opt = Adam(layer.parameters())\n"
        "opt2 = optim.SGD(layer.parameters(), lr=0.1)\n"
        "loader = DL([])\n"
    )
    assert counts == {
        "torch": {"nn": 1, "optim": 1, "zeros": 1},
        "torch.nn": {"Linear": 1, "functional": 1},
        "torch.nn.functional": {"relu": 1},
        "torch.optim": {"Adam": 2, "SGD": 1},
        "torch.utils.data": {"DataLoader": 2},
    }


def test_attribute_chains_count_once_below_the_deepest_namespace():
    counts = _count(
        "import torch\n"
        "torch.nn.init.zeros_(w)\n"
        "torch.nn.functional.softmax(x, 1)\n"
        "if torch.cuda.is_available(): pass\n"
        "s = torch.optim.lr_scheduler.StepLR(o, 1)\n"
        "d = torch.utils.data.Dataset\n"
    )
    assert counts == {
        "torch": {"cuda": 1},
        "torch.nn": {"init": 1},
        "torch.nn.functional": {"softmax": 1},
        "torch.optim": {"lr_scheduler": 1},
        "torch.utils.data": {"Dataset": 1},
    }


def test_tensor_methods_count_only_where_no_other_namespace_claims_the_receiver():
    counts = _count(
        "import numpy as np\n"
        "import torch\n"
        "import torch.nn.functional as F\n"
        "loss = model(x).sum()\n"
        "loss.backward()\n"
        "total += loss.item()\n"
        "x = x.view(-1, 4).relu()\n"
        "np.sum(a)\n"
        "F.relu(x)\n"
        "'a b'.split()\n"
        "self.net.to(device)\n"
        "values = [1, 2].count(1)\n"
        "h = self.relu(h)\n"
    )
    assert counts == {
        "torch.nn": {"functional": 1},
        "torch.nn.functional": {"relu": 1},
        "torch.Tensor": {"backward": 1, "item": 1, "relu": 1, "sum": 1, "to": 1, "view": 1},
    }


def test_names_outside_the_public_lists_and_other_packages_are_not_counted():
    counts = _count(
        "import torch\nimport os\nfrom .local import nn\n"
        "torch._C._foo()\ntorch.not_a_name(1)\nos.path.join('a')\nnn.Linear(1, 1)\n"
    )
    assert counts == {}


def test_update_stores_counts_and_the_file_list_only(tmp_path, capsys):
    doc = {"names": NAMES, "files": [], "per_file": {}, "counts": {}}
    entry = {"repo": "someone/examples", "path": "a.py", "commit": "0" * 40}
    new = update(doc, [(entry, "import torch\nx = torch.zeros(2)\nx.sum().backward()\n")])
    assert new["files"] == [entry]
    assert new["per_file"] == {
        "someone/examples/a.py": {"torch": {"zeros": 1}, "torch.Tensor": {"backward": 1, "sum": 1}}
    }
    assert new["counts"]["torch"] == {"zeros": 1} and new["counts"]["torch.nn"] == {}
    assert "torch.zeros(2)" not in json.dumps(new)

    (tmp_path / "b.py").write_text("import torch\ntorch.manual_seed(0)\n")
    assert main([str(tmp_path / "b.py")]) == 0
    assert "manual_seed 1" in capsys.readouterr().out
    (tmp_path / "bad.py").write_text("def broken(:\n")
    assert main([str(tmp_path / "bad.py")]) == 1
    assert "cannot parse" in capsys.readouterr().err


def test_the_stored_sample_is_a_measurement_of_forty_files():
    doc = json.loads(api_coverage.DATA.read_text())
    assert len(doc["files"]) >= 40
    assert all(len(f["commit"]) == 40 for f in doc["files"])
    assert len(doc["per_file"]) == len(doc["files"])
