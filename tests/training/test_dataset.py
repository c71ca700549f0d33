import io
import json
import tarfile

import numpy as np
from PIL import Image

from ganserve.training.dataset import CATEGORIES, composite_on_white, load_dataset, read_vendor, save_dataset


def png(rgba: tuple[int, int, int, int], size: int = 64) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (size, size), rgba).save(out, format="PNG")
    return out.getvalue()


def write_package(path, vendor: str, emoji: list[dict], images: dict[str, bytes]) -> None:
    """An npm tarball laid out as emoji-datasource-<vendor>'s: package/emoji.json and package/img/<vendor>/64/."""
    with tarfile.open(path, "w:gz") as tar:
        for name, data in [("package/emoji.json", json.dumps(emoji).encode())] + [
            (f"package/img/{vendor}/64/{k}", v) for k, v in images.items()
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def entry(image: str, category: str, order: int, has_image: bool = True) -> dict:
    return {"image": image, "category": category, "sort_order": order, "has_img_google": has_image}


def test_composite_on_white():
    assert (composite_on_white(png((0, 0, 0, 0))) == 255).all()  # transparent -> white
    assert (composite_on_white(png((10, 20, 30, 255))) == [10, 20, 30]).all()
    half = composite_on_white(png((0, 0, 0, 128)))
    assert abs(int(half[0, 0, 0]) - 127) <= 1  # half-transparent black on white: mid grey


def test_read_vendor_keeps_categories_in_order_and_skips_components(tmp_path):
    tarball = tmp_path / "emoji-datasource-google-16.0.0.tgz"
    emoji = [
        entry("b.png", "Flags", 2),
        entry("a.png", "Smileys & Emotion", 1),
        entry("skin.png", "Component", 3),  # not an emoji: left out
        entry("missing.png", "Objects", 4),  # listed, no PNG: left out
        entry("noimg.png", "Objects", 5, has_image=False),
    ]
    write_package(
        tarball, "google", emoji, {"a.png": png((255, 0, 0, 255)), "b.png": png((0, 0, 255, 255)), "skin.png": png((1, 1, 1, 255))}
    )
    rows = read_vendor(tarball, "google")
    assert [(name, label) for name, label, _ in rows] == [("a.png", 0), ("b.png", CATEGORIES.index("Flags"))]
    assert rows[0][2].shape == (64, 64, 3) and (rows[0][2] == [255, 0, 0]).all()


def test_dataset_file_round_trip_and_downsampling(tmp_path, tiny_dataset):
    path = tmp_path / "d.npz"
    save_dataset(tiny_dataset, path)
    loaded = load_dataset(path)
    assert loaded.class_names == tiny_dataset.class_names and (loaded.images == tiny_dataset.images).all()
    small = loaded.at_resolution(16)
    assert small.shape == (48, 16, 16, 3)
    # A box filter: each output pixel is the rounded mean of its 2x2 block.
    block = loaded.images[0, :2, :2].astype(np.float64).mean(axis=(0, 1))
    assert (small[0, 0, 0] == np.rint(block)).all()
