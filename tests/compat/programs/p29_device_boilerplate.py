"""The start of today's official examples and of older multi-GPU scripts: the accelerator and device
checks, backend flags, a DataParallel wrapper on a single device, and distributed checks that fall
back to one process."""

import torch
import torch.backends.cudnn as cudnn
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DataParallel


def main():
    use_accel = torch.accelerator.is_available()
    device = torch.accelerator.current_accelerator() if use_accel else torch.device("cpu")
    cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    mps = torch.backends.mps.is_available()
    distributed = dist.is_available() and dist.is_initialized()
    rank = dist.get_rank() if distributed else 0
    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    with torch.no_grad():
        model.weight.copy_(torch.arange(8.0).reshape(2, 4) / 10)
        model.bias.zero_()
    if torch.cuda.device_count() > 1:
        model = DataParallel(model)
    wrapped = DataParallel(model)
    model.to(device)
    x = torch.ones(3, 4, device=device)
    out = wrapped(x)
    return {
        "exact": {
            "device": str(torch.device("cpu") if not use_accel else device),
            "mps": mps,
            "rank": rank,
            "out": out,
            "keys": list(wrapped.state_dict().keys()),
            "cudnn": cudnn.benchmark,
            "cuda_tensor": x.is_cuda,
            "xpu": x.is_xpu,
            "mps_tensor": x.is_mps,
            "cpu": x.is_cpu,
        }
    }
