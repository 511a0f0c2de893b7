"""Finetuning a model as the transfer learning tutorial does: a frozen feature extractor
(requires_grad=False), a new classifier head, an optimizer over the trainable parameters only,
StepLR, train and eval phases with torch.set_grad_enabled."""

import copy

import torch
import torch.nn as nn
import torch.optim as optim
from torch.optim import lr_scheduler

from _data import digits


def make_backbone():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d((1, 1)),
        nn.Flatten(),
    )


def main():
    torch.manual_seed(0)
    x, y = digits()
    data = {
        "train": (torch.tensor(x[:512, None] / 16), torch.tensor(y[:512])),
        "val": (torch.tensor(x[1500:, None] / 16), torch.tensor(y[1500:])),
    }
    loaders = {
        k: torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(*v), batch_size=64, shuffle=k == "train"
        )
        for k, v in data.items()
    }
    model = nn.Sequential()
    model.add_module("features", make_backbone())
    model.add_module("fc", nn.Linear(16, 10))
    for param in model.features.parameters():
        param.requires_grad = False
    model.fc = nn.Linear(16, 10)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(filter(lambda p: p.requires_grad, model.parameters()), lr=0.1, momentum=0.9)
    scheduler = lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.1)
    best_acc, best_wts = 0.0, copy.deepcopy(model.state_dict())
    val_losses = []
    for epoch in range(4):
        for phase in ["train", "val"]:
            model.train() if phase == "train" else model.eval()
            running_loss, running_corrects = 0.0, 0
            for inputs, labels in loaders[phase]:
                optimizer.zero_grad()
                with torch.set_grad_enabled(phase == "train"):
                    outputs = model(inputs)
                    _, preds = torch.max(outputs, 1)
                    loss = criterion(outputs, labels)
                    if phase == "train":
                        loss.backward()
                        optimizer.step()
                running_loss += loss.item() * inputs.size(0)
                running_corrects += torch.sum(preds == labels.data)
            if phase == "train":
                scheduler.step()
            epoch_acc = running_corrects.double() / len(data[phase][1])
            if phase == "val":
                val_losses.append(running_loss / len(data[phase][1]))
                if epoch_acc > best_acc:
                    best_acc, best_wts = epoch_acc, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_wts)
    frozen_grads = [p.grad is None for p in model.features.parameters()]
    return {
        "exact": {
            "trainable": trainable,
            "frozen_no_grad": all(frozen_grads),
            "lrs": scheduler.get_last_lr(),
        },
        "loose": {"val_loss": val_losses},
    }
