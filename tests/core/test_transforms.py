"""Image transforms: conversions, normalization, resizing, crops, flips, rotation, grey, composition."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import studio.core as sc
from studio.core.data import transforms as T


def _hwc(h=4, w=6):
    return (np.arange(h * w * 3, dtype=np.uint8) * 3).reshape(h, w, 3)


def test_to_tensor_from_array_and_pil():
    arr = _hwc()
    t = T.ToTensor()(arr)
    assert t.shape == (3, 4, 6) and t.dtype == sc.float32
    np.testing.assert_allclose(t.numpy(), arr.transpose(2, 0, 1) / 255.0, rtol=1e-6)
    t2 = T.ToTensor()(Image.fromarray(arr))
    np.testing.assert_array_equal(t.numpy(), t2.numpy())
    grey = T.ToTensor()(Image.fromarray(arr[:, :, 0], mode="L"))
    assert grey.shape == (1, 4, 6)
    f = T.ToTensor()(np.ones((2, 2, 1), np.float64))
    assert f.dtype == sc.float64 and f.max().item() == 1.0
    with pytest.raises(TypeError, match="pic should be a PIL Image or ndarray"):
        T.ToTensor()([1, 2])


def test_normalize():
    t = sc.ones(3, 2, 2)
    out = T.Normalize([0.5, 0.0, 1.0], [0.5, 2.0, 1.0])(t)
    np.testing.assert_allclose(out.numpy()[:, 0, 0], [1.0, 0.5, 0.0])
    assert out.dtype == sc.float32
    batch = T.Normalize([0.5], [0.25])(sc.ones(2, 1, 2, 2))
    np.testing.assert_allclose(batch.numpy(), 2.0)
    with pytest.raises(TypeError, match="Input tensor should be a float tensor"):
        T.Normalize([0.0], [1.0])(sc.ones(1, 2, 2, dtype=sc.uint8))
    with pytest.raises(ValueError, match="std evaluated to zero"):
        T.Normalize([0.0], [0.0])
    with pytest.raises(ValueError, match="Expected tensor to be a tensor image of size"):
        T.Normalize([0.0], [1.0])(sc.ones(2, 2))


def test_normalize_matches_pytorch(torch):
    x = np.random.default_rng(0).random((3, 4, 4)).astype(np.float32)
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    ours = T.Normalize(mean, std)(sc.tensor(x)).numpy()
    theirs = (
        (torch.tensor(x) - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]
    ).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def test_resize_pil_and_tensor():
    img = Image.fromarray(_hwc(4, 8))
    assert T.Resize((2, 3))(img).size == (3, 2)
    assert T.Resize(2)(img).size == (4, 2)  # smaller edge to 2, aspect kept
    t = T.ToTensor()(_hwc(4, 8))
    r = T.Resize(2)(t)
    assert r.shape == (3, 2, 4) and r.dtype == sc.float32
    const = T.Resize((3, 3))(sc.full((1, 6, 6), 0.5))
    np.testing.assert_allclose(const.numpy(), 0.5, rtol=1e-6)
    assert T.Resize(4)(t) is t


def test_center_crop():
    t = sc.arange(36).reshape(1, 6, 6)
    out = T.CenterCrop(2)(t)
    assert out.tolist() == [[[14, 15], [20, 21]]]
    padded = T.CenterCrop((2, 8))(sc.ones(1, 2, 4))
    assert padded.numpy()[0, 0].tolist() == [0, 0, 1, 1, 1, 1, 0, 0]
    img = Image.fromarray(_hwc(6, 6))
    np.testing.assert_array_equal(np.asarray(T.CenterCrop(2)(img)), _hwc(6, 6)[2:4, 2:4])


def test_random_crop_with_padding_is_seeded():
    t = sc.arange(16).reshape(1, 4, 4).float()
    sc.manual_seed(3)
    a = T.RandomCrop(4, padding=1)(t)
    sc.manual_seed(3)
    b = T.RandomCrop(4, padding=1)(t)
    assert a.shape == (1, 4, 4) and a.tolist() == b.tolist()
    crops = set()
    for _ in range(30):
        crops.add(tuple(T.RandomCrop(4, padding=1)(t).numpy().ravel().tolist()))
    assert len(crops) > 1
    full = T.RandomCrop(4)(t)
    assert full.tolist() == t.tolist()
    with pytest.raises(ValueError, match="Required crop size"):
        T.RandomCrop(5)(t)
    assert T.RandomCrop(5, pad_if_needed=True)(t).shape == (1, 5, 5)
    assert T.RandomCrop(3, padding=1)(Image.fromarray(_hwc())).size == (3, 3)


def test_flips():
    t = sc.arange(6).reshape(1, 2, 3)
    assert T.RandomHorizontalFlip(p=1.0)(t).tolist() == [[[2, 1, 0], [5, 4, 3]]]
    assert T.RandomHorizontalFlip(p=0.0)(t) is t
    assert T.RandomVerticalFlip(p=1.0)(t).tolist() == [[[3, 4, 5], [0, 1, 2]]]
    img = Image.fromarray(_hwc())
    np.testing.assert_array_equal(np.asarray(T.RandomHorizontalFlip(1.0)(img)), _hwc()[:, ::-1])
    sc.manual_seed(0)
    flips = [T.RandomHorizontalFlip()(t) is not t for _ in range(200)]
    assert 60 < sum(flips) < 140


def test_rotation():
    t = sc.zeros(1, 5, 5)
    t[0, 2, 4] = 1.0
    out = T.RandomRotation((90, 90))(t)  # counter-clockwise: the right middle moves to the top middle
    assert out.numpy()[0, 0, 2] == 1.0 and out.numpy().sum() == 1.0
    img = Image.fromarray(np.asarray(t.numpy()[0] * 255, dtype=np.uint8), mode="L")
    pil = T.RandomRotation((90, 90))(img)
    assert np.asarray(pil)[0, 2] == 255
    sc.manual_seed(1)
    a = T.RandomRotation(30)(sc.rand(1, 6, 6))
    assert a.shape == (1, 6, 6)
    with pytest.raises(ValueError, match="it must be positive"):
        T.RandomRotation(-5)


def test_grayscale():
    arr = _hwc()
    t = T.ToTensor()(arr)
    g = T.Grayscale()(t)
    expected = 0.2989 * t.numpy()[0] + 0.587 * t.numpy()[1] + 0.114 * t.numpy()[2]
    np.testing.assert_allclose(g.numpy()[0], expected, rtol=1e-5)
    assert T.Grayscale(3)(t).shape == (3, 4, 6)
    assert T.Grayscale()(Image.fromarray(arr)).mode == "L"
    assert T.Grayscale(num_output_channels=3)(Image.fromarray(arr)).mode == "RGB"
    with pytest.raises(ValueError, match="num_output_channels should be either 1 or 3"):
        T.Grayscale(2)


def test_compose_and_lambda():
    pipeline = T.Compose([T.ToTensor(), T.Lambda(lambda x: x * 2), T.Normalize([1.0], [1.0])])
    out = pipeline(np.full((2, 2, 1), 255, np.uint8))
    np.testing.assert_allclose(out.numpy(), 1.0)
    assert "ToTensor()" in repr(pipeline)
    with pytest.raises(TypeError, match="should be callable"):
        T.Lambda(3)


def test_bad_input_type():
    with pytest.raises(TypeError, match="expected a PIL image or a tensor of shape"):
        T.CenterCrop(2)(np.zeros((3, 3)))
