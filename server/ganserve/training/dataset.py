"""The emoji dataset: Noto Emoji and Twemoji 64x64 PNGs from the emoji-datasource npm packages.

`build_emoji_dataset` runs `npm pack` for each vendor's package, reads the PNGs straight from the
tarball, composites them on white, and writes one compressed .npz: images uint8 [N, 64, 64, 3],
labels int64 [N] (the emoji category), and the category names. Skin-tone variants are left out (they
are near-copies of their base emoji, and would make "People & Body" 60% of the data), and so is the
"Component" category (skin-tone swatches and hair parts, not emoji).
"""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

EMOJI_VERSION = "16.0.0"
VENDORS = ("google", "twitter")
# Category order is the class index; emoji.json's own order.
CATEGORIES = (
    "Smileys & Emotion",
    "People & Body",
    "Animals & Nature",
    "Food & Drink",
    "Travel & Places",
    "Activities",
    "Objects",
    "Symbols",
    "Flags",
)
ATTRIBUTION = {
    "google": "Noto Emoji, Copyright Google Inc., Apache License 2.0",
    "twitter": "Twemoji, Copyright Twitter, Inc. and other contributors, CC-BY 4.0",
}


@dataclass(frozen=True)
class EmojiDataset:
    images: np.ndarray  # uint8 [N, H, W, 3]
    labels: np.ndarray  # int64 [N], index into class_names
    class_names: tuple[str, ...]
    vendors: np.ndarray  # str [N]
    names: np.ndarray  # str [N]: the PNG's file name (its code points)

    def __len__(self) -> int:
        return len(self.labels)

    def at_resolution(self, resolution: int) -> np.ndarray:
        """Images box-downsampled to `resolution` (a power-of-two divisor of the stored size), uint8."""
        size = self.images.shape[1]
        if size % resolution:
            raise ValueError(f"cannot downsample {size}x{size} to {resolution}x{resolution}")
        f = size // resolution
        x = self.images.reshape(len(self), resolution, f, resolution, f, 3).astype(np.float32).mean(axis=(2, 4))
        return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def save_dataset(dataset: EmojiDataset, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path,
        images=dataset.images,
        labels=dataset.labels,
        class_names=np.array(dataset.class_names),
        vendors=dataset.vendors,
        names=dataset.names,
    )


def load_dataset(path: Path) -> EmojiDataset:
    with np.load(path, allow_pickle=False) as data:
        return EmojiDataset(
            images=data["images"],
            labels=data["labels"].astype(np.int64),
            class_names=tuple(str(c) for c in data["class_names"]),
            vendors=data["vendors"],
            names=data["names"],
        )


def npm_pack(package: str, directory: Path) -> Path:
    """Download one npm package tarball (no install, no scripts run)."""
    out = subprocess.run(
        ["npm", "pack", "--silent", "--ignore-scripts", package], cwd=directory, check=True, capture_output=True, text=True
    )
    return directory / out.stdout.strip().splitlines()[-1]


def composite_on_white(png: bytes) -> np.ndarray:
    rgba = Image.open(io.BytesIO(png)).convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))


def read_vendor(tarball: Path, vendor: str, size: int = 64) -> list[tuple[str, int, np.ndarray]]:
    """(file name, category index, RGB image) for every base emoji of one vendor that has an image.
    The tarball is read in one pass: random access into a .tgz decompresses from the start each time."""
    prefix = f"package/img/{vendor}/{size}/"
    pngs: dict[str, bytes] = {}
    catalogue = None
    with tarfile.open(tarball, "r:gz") as tar:
        for member in tar:
            content = tar.extractfile(member)  # None for folders
            if content is None:
                continue
            if member.name == "package/emoji.json":
                catalogue = json.load(content)
            elif member.name.startswith(prefix) and member.name.endswith(".png"):
                pngs[member.name.removeprefix(prefix)] = content.read()
    if catalogue is None:
        raise ValueError(f"{tarball.name} has no package/emoji.json")
    rows = []
    for emoji in sorted(catalogue, key=lambda e: e["sort_order"]):
        png = pngs.get(emoji["image"])
        if emoji["category"] not in CATEGORIES or not emoji.get(f"has_img_{vendor}") or png is None:
            continue
        image = composite_on_white(png)
        if image.shape != (size, size, 3):
            raise ValueError(f"{emoji['image']}: expected {size}x{size}, got {image.shape}")
        rows.append((emoji["image"], CATEGORIES.index(emoji["category"]), image))
    return rows


def build_emoji_dataset(out: Path, vendors: tuple[str, ...] = VENDORS, version: str = EMOJI_VERSION) -> EmojiDataset:
    names, labels, images, vendor_of = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for vendor in vendors:
            tarball = npm_pack(f"emoji-datasource-{vendor}@{version}", Path(tmp))
            for name, label, image in read_vendor(tarball, vendor):
                names.append(name)
                labels.append(label)
                images.append(image)
                vendor_of.append(vendor)
    dataset = EmojiDataset(np.stack(images), np.array(labels, dtype=np.int64), CATEGORIES, np.array(vendor_of), np.array(names))
    save_dataset(dataset, out)
    return load_dataset(out)
