"""bfloat16 as mixed-precision scripts meet it: casting weights and activations down and back, dtype
promotion with float32, printing, finfo, and a save / load round trip."""

import os
import tempfile

import torch


def main():
    x = torch.linspace(-3, 3, 9)
    low = x.to(torch.bfloat16)
    mixed = low + torch.ones(9)
    text = str(low.reshape(3, 3))
    info = torch.finfo(torch.bfloat16)
    exact = {
        "back": low.float(),
        "dtype": str(low.dtype).split(".")[-1],
        "mixed_dtype": str(mixed.dtype).split(".")[-1],
        "method": x.bfloat16().float(),
        "is_float": low.is_floating_point(),
        "itemsize": low.element_size(),
        "eps": info.eps,
        "max": info.max,
        "text": text.split("dtype=")[0],
        "text_dtype": text.split("dtype=")[1].split(".")[-1],
        "sum": low.sum().float(),
        "promoted": str(torch.promote_types(torch.bfloat16, torch.float16)).split(".")[-1],
    }
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "w.pt")
        torch.save({"w": low}, path)
        exact["reloaded"] = torch.load(path)["w"].float()
    return {"exact": exact}
