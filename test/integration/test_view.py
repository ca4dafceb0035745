"""`sim2real view` in headless Chromium: the page shows the robot, and it changes when the joints move.

The viewer runs as its own process (`python -m sim2real.view`, the command's entry point) on a DDS
domain of its own; this test publishes synthetic /joint_states of the Jaco to it. Screenshots are
cropped to the middle of the 3D view, where the initial camera (the Jaco's camera pose) puts the
arm, clear of the side panel (plots) and of the browser's software-WebGL notice at the top left.

Needs Debian's `chromium` and `chromium-driver` (`make test` installs them when it runs as root);
without them the test skips and says so.
"""
from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

pytestmark = pytest.mark.ros

CHROMIUM = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
CHROMEDRIVER = shutil.which("chromedriver")
if CHROMIUM is None or CHROMEDRIVER is None:
    pytest.skip("the browser test needs chromium and chromedriver (Debian: apt-get install chromium "
                "chromium-driver; `make test` does it as root): "
                f"{'chromium' if CHROMIUM is None else ''} {'chromedriver' if CHROMEDRIVER is None else ''}"
                " not found", allow_module_level=True)
try:
    import selenium  # noqa: F401
except ImportError:
    pytest.skip("selenium is not installed (pip install -r requirements.txt)", allow_module_level=True)

WINDOW = (1280, 800)
DARK = 80            # a pixel darker than this in every channel: the arm's carbon links (grid, shadows are lighter)
NAMES = [f"joint_{i}" for i in range(1, 8)]
POSE_A = np.array([0.0, 0.5, 0.0, 1.6, 0.0, 1.0, 0.0])        # the Jaco's home
POSE_B = np.array([1.2, 0.9, 0.0, 1.0, 0.0, 1.0, 0.0])        # turned and leaning forward


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _crop(png: bytes) -> np.ndarray:
    from PIL import Image
    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    h, w, _ = img.shape
    return img[int(0.1 * h):int(0.95 * h), int(0.3 * w):int(0.72 * w)].astype(np.int16)


def _dark(img: np.ndarray) -> int:
    return int(np.all(img < DARK, axis=2).sum())


def _changed(a: np.ndarray, b: np.ndarray) -> float:
    """Share of pixels that differ by more than 30 in some channel."""
    return float(np.any(np.abs(a - b) > 30, axis=2).mean())


class _Publisher:
    """Synthetic /joint_states at 100 Hz (stamps in wall seconds from 0), pose settable."""

    def __init__(self, domain: int):
        import rclpy
        from sensor_msgs.msg import JointState
        self.rclpy = rclpy
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain)
        self.node = rclpy.create_node("synthetic_joint_states", context=self.context)
        self.pub = self.node.create_publisher(JointState, "/joint_states", 10)
        self.q = POSE_A.copy()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from sim2real.ros import convert
        t0 = time.monotonic()
        while not self._stop.is_set():
            t = time.monotonic() - t0
            self.pub.publish(convert.joint_state(t, NAMES, self.q, np.zeros(7), -self.q))
            time.sleep(0.01)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.node.destroy_node()
        self.rclpy.shutdown(context=self.context)


def _until(what, timeout: float, step: float = 0.25):
    """what() -> a value or None; the first value that is not None, or None after timeout s."""
    end = time.monotonic() + timeout
    while True:
        v = what()
        if v is not None or time.monotonic() > end:
            return v
        time.sleep(step)


def _when(ok, value):
    return value if ok else None


def test_view_in_headless_chromium(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    t_start = time.monotonic()
    domain = (int(os.environ.get("ROS_DOMAIN_ID", "0")) + 200) % 232
    port = _free_port()
    env = {**os.environ, "ROS_DOMAIN_ID": str(domain)}
    viewer = subprocess.Popen([sys.executable, "-m", "sim2real.view", "--robot", "jaco", "--port", str(port),
                               "--duration", "60"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(viewer.stdout), daemon=True).start()
    pub = _Publisher(domain)
    driver = None
    try:
        url = _until(lambda: next((ln.split(" at ")[1].split()[0] for ln in lines if ln.startswith("sim2real view:")),
                                  "exited" if viewer.poll() is not None else None), 20)
        assert url not in (None, "exited"), f"the viewer did not start:\n{''.join(lines)}"
        assert url == f"http://127.0.0.1:{port}"

        opts = Options()
        opts.binary_location = CHROMIUM
        for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={WINDOW[0]},{WINDOW[1]}",
                  "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"):
            opts.add_argument(a)
        driver = webdriver.Chrome(options=opts, service=Service(CHROMEDRIVER))
        driver.set_page_load_timeout(20)
        driver.get(url)

        # the arm appears (and the status says the joint states arrive)
        shot = lambda: _crop(driver.get_screenshot_as_png())   # noqa: E731
        a = _until(lambda: _when(_dark(s := shot()) > 2000, s), 25, 0.5)
        assert a is not None, "no robot on the page: too few dark pixels in the 3D view"
        assert _until(lambda: _when("joint states:" in driver.page_source, True), 5)
        a = _until(lambda: _when(_changed(s := shot(), shot()) < 0.002, s), 8, 0.3)   # settled
        assert a is not None, "the view does not settle while the joints stand still"
        (tmp_path / "a.png").write_bytes(driver.get_screenshot_as_png())

        pub.q = POSE_B.copy()
        b = _until(lambda: _when(_changed(a, s := shot()) > 0.01, s), 10, 0.3)
        assert b is not None, f"the view did not change when the joints moved ({_changed(a, shot()):.4f} of pixels)"
        time.sleep(0.5)
        (tmp_path / "b.png").write_bytes(driver.get_screenshot_as_png())
        b = shot()
        print(f"\nview test: dark pixels {_dark(a)} -> {_dark(b)}, changed {_changed(a, b):.1%} of "
              f"{a.shape[1]}x{a.shape[0]} px, screenshots {(tmp_path / 'a.png').stat().st_size} and "
              f"{(tmp_path / 'b.png').stat().st_size} bytes, {time.monotonic() - t_start:.1f} s")
        assert _dark(b) > 2000
    finally:
        if driver is not None:
            driver.quit()
        pub.close()
        viewer.terminate()
        try:
            viewer.wait(timeout=10)
        except subprocess.TimeoutExpired:
            viewer.kill()
    assert viewer.returncode == 0, f"the viewer exited with {viewer.returncode}:\n{''.join(lines)}"
