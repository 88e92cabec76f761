"""Branding marks: find a known logo anywhere in an image, at ~0.3x-2x, after re-compression and crops.

OpenCV local features (ORB by default; AKAZE selectable, compared in bench/text_in_media.py), Lowe's ratio
test, then a RANSAC homography; a hit needs enough inliers and a sane (not folded, not degenerate) box.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

RATIO = 0.75  # Lowe's ratio test
MIN_INLIERS = 12
MIN_CELLS = 5  # of the logo's 3x3 grid cells that must hold an inlier
MAX_SIDE = 1600  # scenes are scaled down to this before matching; boxes are scaled back


@dataclass(frozen=True)
class LogoHit:
    logo_id: str
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in the searched image's pixels
    inliers: int
    score: float  # inliers / logo keypoints matched by the ratio test, 0..1


@dataclass
class _Logo:
    logo_id: str
    size: tuple[int, int]
    keypoints: list[tuple[float, float]]
    descriptors: np.ndarray


def _grey(image: Path | Image.Image) -> np.ndarray:
    if isinstance(image, Path):
        with Image.open(image) as img:
            return np.asarray(img.convert("L"))
    return np.asarray(image.convert("L"))


@dataclass
class LogoIndex:
    """Known logos; `find` returns the ones present in an image, best first."""

    method: str = "orb"  # "orb" or "akaze"
    min_inliers: int = MIN_INLIERS
    _logos: list[_Logo] = field(default_factory=list)

    def _detector(self, n_features: int) -> cv2.Feature2D:
        if self.method == "akaze":
            return cv2.AKAZE_create(  # type: ignore[attr-defined]
                threshold=0.0008
            )
        if self.method == "orb":
            return cv2.ORB_create(  # type: ignore[attr-defined]
                nfeatures=n_features, scaleFactor=1.2, nlevels=10, fastThreshold=10
            )
        raise ValueError(f"unknown logo method {self.method!r} (use 'orb' or 'akaze')")

    def add(self, logo_id: str, image_path: Path) -> None:
        grey = _grey(image_path)
        # features are found on the logo at several sizes, so small copies in a scene still match
        kps: list[tuple[float, float]] = []
        descs: list[np.ndarray] = []
        h, w = grey.shape
        for scale in (1.0, 0.6, 0.35):
            if min(h, w) * scale < 24:
                break
            img = cv2.resize(grey, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
            img = cv2.copyMakeBorder(img, 16, 16, 16, 16, cv2.BORDER_REPLICATE)
            k, d = self._detector(1000).detectAndCompute(img, None)
            if d is None:
                continue
            kps += [((p.pt[0] - 16) / scale, (p.pt[1] - 16) / scale) for p in k]
            descs.append(d)
        if not descs or len(kps) < self.min_inliers:
            raise ValueError(f"{image_path}: logo has too little detail to be found ({len(kps)} features)")
        self._logos.append(_Logo(logo_id, (w, h), kps, np.vstack(descs)))

    def find(self, image_path_or_pil: Path | Image.Image) -> list[LogoHit]:
        grey = _grey(image_path_or_pil)
        scale = min(1.0, MAX_SIDE / max(grey.shape))
        if scale < 1.0:
            grey = cv2.resize(grey, (round(grey.shape[1] * scale), round(grey.shape[0] * scale)))
        kps, desc = self._detector(8000).detectAndCompute(grey, None)
        if desc is None or len(kps) < self.min_inliers:
            return []
        norm = cv2.NORM_HAMMING
        matcher = cv2.BFMatcher(norm)
        hits: list[LogoHit] = []
        for logo in self._logos:
            pairs = matcher.knnMatch(logo.descriptors, desc, k=2)
            good = [m[0] for m in pairs if len(m) == 2 and m[0].distance < RATIO * m[1].distance]
            if len(good) < self.min_inliers:
                continue
            src = np.array([logo.keypoints[m.queryIdx] for m in good], dtype=np.float32).reshape(-1, 1, 2)
            dst = np.array([kps[m.trainIdx].pt for m in good], dtype=np.float32).reshape(-1, 1, 2)
            hom, mask = cv2.findHomography(src, dst, cv2.RANSAC, 5.0)
            if hom is None or mask is None:
                continue
            inliers = int(mask.sum())
            if inliers < self.min_inliers:
                continue
            w, h = logo.size
            # the matches must spread over the mark, not sit on one part of it (its word, say)
            pts = src.reshape(-1, 2)[mask.ravel() > 0]
            cells = {(min(2, int(3 * px / w)), min(2, int(3 * py / h))) for px, py in pts}
            if len(cells) < MIN_CELLS:
                continue
            corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32).reshape(-1, 1, 2)
            quad = cv2.perspectiveTransform(corners, hom).reshape(-1, 2)
            if not _plausible(quad, grey.shape):
                continue
            x0, y0 = quad.min(axis=0) / scale
            x1, y1 = quad.max(axis=0) / scale
            box = (max(0, int(x0)), max(0, int(y0)), int(round(x1)), int(round(y1)))
            hits.append(LogoHit(logo.logo_id, box, inliers, round(inliers / len(good), 3)))
        return sorted(hits, key=lambda hit: -hit.inliers)


def _plausible(quad: np.ndarray, shape: tuple[int, ...]) -> bool:
    """A found logo is a convex, not mirrored, not-too-skewed quadrilateral of reasonable size."""
    x, y = quad[:, 0], quad[:, 1]
    signed = float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
    if signed <= 0:  # corners run the other way round: a mirror image, not the logo
        return False
    if not cv2.isContourConvex(quad.astype(np.float32).reshape(-1, 1, 2)):
        return False
    area = cv2.contourArea(quad.astype(np.float32))
    if area < 20 * 20 or area > 4 * shape[0] * shape[1]:
        return False
    sides = [float(np.linalg.norm(quad[i] - quad[(i + 1) % 4])) for i in range(4)]
    return min(sides) >= 8 and max(sides) / min(sides) <= 4
