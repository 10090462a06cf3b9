"""Live pose estimation from a camera with a TFLite (or ONNX) Lite-HRNet, in tracking mode, with an FPS overlay.

Made for a Raspberry Pi 4/5 with the lite-hrnet wheel and its tflite extra
(``pip install 'lite_hrnet-*.whl[tflite]'``, see README.md); runs anywhere OpenCV can open a camera.
There is no person detector: the first frame (and any frame after tracking is lost) uses the
whole frame as the person box, later frames use the box around the previous frame's confident
keypoints. That suits one person in view; for several people, feed detector boxes to
``PoseTracker.update(frame, boxes)`` when ``tracker.needs_boxes`` is true.

    python camera_pose.py --model litehrnet_18_coco_256x192_fp16.tflite --threads 4
    python camera_pose.py --model model.tflite --no-window --out pose.mp4 --max-frames 300   # headless

Keys: q or Esc quits.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Optional

import cv2
import numpy as np

from lite_hrnet.pipeline import PoseEstimator, PoseTracker, draw_poses


def parse_args(argv: Optional[list] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help=".tflite (or .onnx / .xml) file exported by `lite-hrnet export`")
    p.add_argument("--camera", default="0", help="camera index, or a video file / GStreamer pipeline (default 0)")
    p.add_argument("--width", type=int, default=640, help="capture width (default 640)")
    p.add_argument("--height", type=int, default=480, help="capture height (default 480)")
    p.add_argument("--threads", type=int, default=4, help="inference threads (default 4, the Pi's cores)")
    p.add_argument("--kpt-thr", type=float, default=0.3, help="keypoint score threshold for drawing and tracking")
    p.add_argument("--picamera2", action="store_true", help="capture with picamera2 (Raspberry Pi camera module)")
    p.add_argument("--no-window", action="store_true", help="do not open a window (headless; use --out)")
    p.add_argument("--out", help="write the annotated video here (.mp4)")
    p.add_argument("--max-frames", type=int, help="stop after this many frames")
    return p.parse_args(argv)


class Camera:
    """Frames as H x W x 3 uint8 BGR, from OpenCV or picamera2."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.picam = None
        if args.picamera2:
            from picamera2 import Picamera2  # apt install python3-picamera2 (use a venv with --system-site-packages)

            self.picam = Picamera2()
            # "RGB888" in picamera2 is B, G, R byte order in memory: what OpenCV calls BGR.
            self.picam.configure(self.picam.create_preview_configuration(
                main={"size": (args.width, args.height), "format": "RGB888"}))
            self.picam.start()
            return
        source = int(args.camera) if args.camera.isdigit() else args.camera
        self.cap = cv2.VideoCapture(source)
        if not self.cap.isOpened():
            raise SystemExit(f"cannot open camera {args.camera!r}")
        self.cap.set(cv2.CAP_PROP_FRAME_WIDTH, args.width)
        self.cap.set(cv2.CAP_PROP_FRAME_HEIGHT, args.height)
        self.cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not a queue of old ones

    def read(self) -> Optional[np.ndarray]:
        if self.picam is not None:
            return self.picam.capture_array()[..., :3]
        ok, frame = self.cap.read()
        return frame if ok else None

    def close(self) -> None:
        if self.picam is not None:
            self.picam.stop()
        else:
            self.cap.release()


def main(argv: Optional[list] = None) -> int:
    args = parse_args(argv)
    estimator = PoseEstimator(args.model, threads=args.threads)
    print(f"{estimator.info.runtime} {estimator.info.version}, {estimator.info.precision}, "
          f"threads {estimator.info.threads}, input {estimator.input_size[1]}x{estimator.input_size[0]}")
    tracker = PoseTracker(estimator, kpt_thr=args.kpt_thr)
    camera = Camera(args)
    writer = None
    fps = 0.0
    frames = 0
    last = time.perf_counter()
    try:
        while args.max_frames is None or frames < args.max_frames:
            frame = camera.read()
            if frame is None:
                break
            result = tracker.update(frame)
            now = time.perf_counter()
            fps = 0.9 * fps + 0.1 / max(now - last, 1e-6) if frames else 1.0 / max(now - last, 1e-6)
            last = now
            frames += 1
            drawn = draw_poses(frame, result, estimator.skeleton, kpt_thr=args.kpt_thr, copy=False)
            status = "tracking" if not tracker.needs_boxes else "searching (whole frame)"
            cv2.putText(drawn, f"{fps:5.1f} FPS  {status}", (10, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.8,
                        (0, 0, 0), 4, cv2.LINE_AA)
            cv2.putText(drawn, f"{fps:5.1f} FPS  {status}", (10, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.8,
                        (255, 255, 255), 2, cv2.LINE_AA)
            if args.out:
                if writer is None:
                    writer = cv2.VideoWriter(args.out, cv2.VideoWriter_fourcc(*"mp4v"), 15,
                                             (drawn.shape[1], drawn.shape[0]))
                writer.write(drawn)
            if not args.no_window:
                try:
                    cv2.imshow("lite-hrnet", drawn)
                except cv2.error:
                    print("this OpenCV has no GUI (opencv-python-headless): use --no-window --out pose.mp4, "
                          "or pip install opencv-python", file=sys.stderr)
                    return 2
                if (cv2.waitKey(1) & 0xFF) in (ord("q"), 27):
                    break
    except KeyboardInterrupt:
        pass
    finally:
        camera.close()
        if writer is not None:
            writer.release()
        if not args.no_window:
            try:
                cv2.destroyAllWindows()
            except cv2.error:
                pass
    print(f"{frames} frames, {fps:.1f} FPS at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
