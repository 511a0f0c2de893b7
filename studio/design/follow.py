"""The parameter changes that make a design's Input and Output follow its data (shape, classes, task)."""

from __future__ import annotations


def follow_data(design, input_shape, num_classes: int, task: str, input_dtype: str = "float32") -> list:
    """(node_id, param, value) changes: Input takes the sample shape and dtype, Output the task, and the
    Linear feeding Output as many outputs as there are classes (one for regression)."""
    changes = []
    for node in design.nodes.values():
        if node.type == "Input":
            if tuple(node.params.get("shape", ())) != tuple(input_shape):
                changes.append((node.id, "shape", tuple(int(s) for s in input_shape)))
            if node.params.get("dtype", "float32") != input_dtype:
                changes.append((node.id, "dtype", input_dtype))
        elif node.type == "Output":
            if task in ("classification", "regression") and node.params.get("task") != task:
                changes.append((node.id, "task", task))
                if task == "regression" and node.params.get("loss") in ("cross_entropy", "nll"):
                    changes.append((node.id, "loss", "mse"))
                elif task == "classification" and node.params.get("loss") not in ("cross_entropy", "nll"):
                    changes.append((node.id, "loss", "cross_entropy"))
            width = num_classes if task == "classification" else 1
            for edge in design.edges:
                if edge.dst != node.id:
                    continue
                head = design.nodes[edge.src]
                if head.type == "Linear" and width > 0 and head.params.get("out_features") != width:
                    changes.append((head.id, "out_features", int(width)))
    return changes
