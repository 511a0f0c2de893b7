"""Image resampling as augmentation and decoder code use it: F.interpolate in each mode, nn.Upsample,
align_corners, scale factors and sizes, and a patchify / unpatchify round trip with F.unfold / F.fold."""

import torch
import torch.nn as nn
import torch.nn.functional as F


def main():
    img = torch.arange(2 * 3 * 6 * 8, dtype=torch.float32).reshape(2, 3, 6, 8) / 100
    out = {}
    for mode in ("nearest", "nearest-exact", "bilinear", "bicubic", "area"):
        out[mode] = F.interpolate(img, size=(9, 5), mode=mode)
    out["bilinear_ac"] = F.interpolate(img, scale_factor=1.5, mode="bilinear", align_corners=True)
    out["linear_1d"] = F.interpolate(img[:, :, 0], scale_factor=2, mode="linear")
    out["upsample"] = nn.Upsample(scale_factor=2, mode="nearest")(img)
    out["trilinear"] = F.interpolate(img.unsqueeze(2), size=(2, 3, 4), mode="trilinear")
    patches = F.unfold(img, kernel_size=2, stride=2)
    out["patches_shape"] = list(patches.shape)
    out["roundtrip"] = F.fold(patches, output_size=(6, 8), kernel_size=2, stride=2)
    overlap = F.fold(F.unfold(img, 3, padding=1), (6, 8), 3, padding=1)
    out["overlap_counts"] = overlap / img.clamp(min=1e-6)
    out["pixel_shuffle"] = F.pixel_shuffle(img[:, :, :4, :4].repeat(1, 4, 1, 1)[:, :4], 2)
    return {"exact": out}
