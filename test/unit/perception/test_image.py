"""Image handling (OpenCV): sensor_msgs/Image decoding refuses every malformed frame with a reason,
never raises; resizing keeps the camera's aspect ratio; the effects do what they say."""
import numpy as np
import pytest

from sim2real import image as im


def _rgb(h=6, w=8, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("enc", ["rgb8", "bgr8", "rgba8", "bgra8", "mono8"])
def test_decode_every_encoding_to_rgb(enc):
    rgb = _rgb()
    import cv2
    conv = {"rgb8": rgb, "bgr8": rgb[..., ::-1], "rgba8": np.dstack([rgb, np.full(rgb.shape[:2], 7, np.uint8)]),
            "bgra8": np.dstack([rgb[..., ::-1], np.zeros(rgb.shape[:2], np.uint8)]),
            "mono8": cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[..., None]}[enc]
    ch = conv.shape[2]
    step = 8 * ch + 4                                    # padded rows
    data = np.zeros((6, step), np.uint8)
    data[:, :8 * ch] = conv.reshape(6, -1)
    out, problem = im.decode(6, 8, enc, step, data.tobytes())
    assert problem is None and out.shape == (6, 8, 3) and out.dtype == np.uint8
    if enc != "mono8":
        assert np.array_equal(out, rgb)
    else:
        assert np.array_equal(out[..., 0], out[..., 2])


@pytest.mark.parametrize("args,needle", [
    ((6, 8, "yuv422", 24, bytes(144)), "encoding"),
    ((0, 8, "rgb8", 24, b""), "empty"),
    ((6, 0, "rgb8", 0, b""), "empty"),
    ((6, 8, "rgb8", 20, bytes(144)), "step"),
    ((6, 8, "rgb8", 24, bytes(100)), "needs 144"),
    ((6, 8, "rgb8", 24, b""), "no pixel data"),
])
def test_malformed_images_are_named_not_raised(args, needle):
    out, problem = im.decode(*args)
    assert out is None and needle in problem


def test_decode_msg_of_a_broken_object_is_a_problem():
    out, problem = im.decode_msg(object())
    assert out is None and "not an image message" in problem


def test_fit_resizes_same_aspect_and_refuses_another():
    img = _rgb(192, 192)
    out, p = im.fit(img, 96, 96)
    assert p is None and out.shape == (96, 96, 3)
    same, p = im.fit(_rgb(96, 96), 96, 96)
    assert p is None and same.shape == (96, 96, 3)
    out, p = im.fit(_rgb(96, 128), 96, 96)
    assert out is None and "aspect" in p


def test_effects():
    img = np.full((32, 32, 3), 100, np.uint8)
    img[16, 16] = 255
    assert im.effects(img) is img                         # nothing asked: unchanged
    b = im.blur(img, 1.0)
    assert b[16, 16, 0] < 255 and b[16, 17, 0] > 100       # spread
    s = im.effects(img, color_shift=[0.1, 0.0, -0.1])
    assert tuple(s[0, 0]) == (125, 100, 74)     # truncated, as sim/camera.py
    n1 = im.effects(img, noise_std=5.0, rng=np.random.default_rng(1))
    n2 = im.effects(img, noise_std=5.0, rng=np.random.default_rng(1))
    assert np.array_equal(n1, n2) and 2 < np.std(n1.astype(float)) < 10
    j = im.jpeg(_rgb(32, 32), 30)
    assert j.shape == (32, 32, 3) and not np.array_equal(j, _rgb(32, 32))
    assert im.jpeg(img, 100) is img


def test_to_input_layout():
    x = im.to_input(_rgb(4, 5))
    assert x.shape == (1, 3, 4, 5) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
