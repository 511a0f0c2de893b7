"""A small vision transformer: patch embedding by a strided Conv2d, a learned class token and position
embedding (nn.Parameter), a batch-first TransformerEncoder with pre-norm layers and GELU, a linear
head; trained briefly on the 8x8 digits."""

import torch
import torch.nn as nn

from _data import digits


class ViT(nn.Module):
    def __init__(self, image_size=8, patch_size=2, dim=32, depth=2, heads=4, num_classes=10):
        super().__init__()
        num_patches = (image_size // patch_size) ** 2
        self.patch_embed = nn.Conv2d(1, dim, kernel_size=patch_size, stride=patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, num_patches + 1, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(
            dim, heads, dim * 2, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, depth)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        x = torch.cat((cls, x), dim=1) + self.pos_embed
        x = self.encoder(x)
        return self.head(self.norm(x[:, 0]))


def main():
    torch.manual_seed(0)
    x, y = digits()
    ds = torch.utils.data.TensorDataset(torch.tensor(x[:512, None] / 16), torch.tensor(y[:512]))
    loader = torch.utils.data.DataLoader(ds, batch_size=64, shuffle=True)
    model = ViT()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.05)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=4)
    losses = []
    for epoch in range(4):
        total = 0.0
        for images, labels in loader:
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(images), labels, label_smoothing=0.1)
            loss.backward()
            optimizer.step()
            total += loss.item()
        scheduler.step()
        losses.append(total / len(loader))
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"exact": {"n_params": n_params}, "loose": {"loss": losses}}
