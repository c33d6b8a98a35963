"""Synthetic scenes for the bundled vision-language model: one to three shapes on a light background.

A scene is drawn with Pillow from a seed (`scene(seed)`) or from explicit choices (`Scene`), at
IMAGE x IMAGE pixels. The objects stand in three columns (left, middle, right) and three rows (high,
middle, low; a seeded scene jitters both by a few pixels), and the caption names them from left to right
with their row: "a high red circle left of a low blue square". The row words make the caption depend on
where each object is, not only on which colours and shapes the picture holds: with the patches shuffled,
a model can still see the colours but no longer tell the rows (the shuffled-patches ablation).

Held out: scenes whose caption hashes to HELDOUT (crc32 of the caption mod HELDOUT_MOD == 0) are never
trained on, so a held-out scene is a combination of objects the model has never seen captioned.
"""
from __future__ import annotations

import random
import zlib
from dataclasses import dataclass

import numpy as np

IMAGE = 64                    # pixels per side
COLOURS = {"red": (213, 45, 35), "blue": (30, 90, 215), "green": (35, 150, 60), "yellow": (240, 195, 20)}
SHAPES = ("circle", "square", "triangle")
COLUMNS = ("left", "middle", "right")
ROWS = ("top", "centre", "bottom")
COLUMN_X = (11, 32, 53)       # centre of each column, in pixels
ROW_Y = (14, 32, 50)          # centre of each row (a seeded scene jitters it by up to 2 pixels)
ROW_WORDS = ("high", "middle", "low")   # how a caption names each of ROWS
WORDS_PER_OBJECT = 6          # "a high red circle left of": the caption's words per object
BACKGROUND = (236, 236, 232)
HELDOUT_MOD = 8
PROMPT = "the picture shows"  # the text after the image; the caption follows it
TRAIN_SEED, HELDOUT_SEED = 0, 10_000_000   # seeded scenes: training from 0 up, held-out from 10,000,000 up


@dataclass(frozen=True)
class Shape:
    colour: str
    shape: str
    x: int            # centre, pixels
    y: int
    r: int            # half the side of its bounding box, pixels

    @property
    def row(self) -> int:
        """The row (index into ROWS) whose centre is nearest."""
        return min(range(len(ROW_Y)), key=lambda i: abs(ROW_Y[i] - self.y))

    @property
    def words(self) -> str:
        return f"{ROW_WORDS[self.row]} {self.colour} {self.shape}"


@dataclass(frozen=True)
class Scene:
    objects: tuple[Shape, ...]

    @property
    def caption(self) -> str:
        """The objects from left to right: 'a high red circle left of a low blue square'."""
        return " left of ".join(f"a {o.words}" for o in sorted(self.objects, key=lambda o: o.x))

    @property
    def heldout(self) -> bool:
        return is_heldout(self.caption)


def is_heldout(caption: str) -> bool:
    return zlib.crc32(caption.encode()) % HELDOUT_MOD == 0


def scene(seed: int) -> Scene:
    """One to three shapes (one in six scenes has one, a third two, half three) in distinct columns, each
    in one of the three rows."""
    rng = random.Random(seed)
    n = rng.choice((1, 2, 2, 3, 3, 3))
    columns = sorted(rng.sample(range(3), n))
    objects = []
    for c in columns:
        r = rng.randint(7, 9)
        objects.append(Shape(rng.choice(list(COLOURS)), rng.choice(SHAPES),
                             COLUMN_X[c] + rng.randint(-2, 2), ROW_Y[rng.randrange(3)] + rng.randint(-2, 2), r))
    return Scene(tuple(objects))


def seeded_scenes(n: int, heldout: bool, start: int | None = None) -> list[Scene]:
    """The first n training (or held-out) scenes: seeds counted up from their range, filtered by caption."""
    seed = (HELDOUT_SEED if heldout else TRAIN_SEED) if start is None else start
    out = []
    while len(out) < n:
        s = scene(seed)
        if s.heldout == heldout:
            out.append(s)
        seed += 1
    return out


def build(items: list[tuple[str, str, str, str]]) -> Scene:
    """A scene from explicit choices [(colour, shape, column, row)], e.g. ('red', 'circle', 'left', 'top').
    Raises ValueError on an unknown word or two objects in one column."""
    objects = []
    used = set()
    for colour, shape, column, row in items:
        if colour not in COLOURS or shape not in SHAPES or column not in COLUMNS or row not in ROWS:
            raise ValueError(f"unknown choice {(colour, shape, column, row)}")
        if column in used:
            raise ValueError(f"two objects in the {column} column")
        used.add(column)
        objects.append(Shape(colour, shape, COLUMN_X[COLUMNS.index(column)], ROW_Y[ROWS.index(row)], 8))
    if not 1 <= len(objects) <= 3:
        raise ValueError("a scene has one to three objects")
    return Scene(tuple(objects))


def _draw(draw, o: Shape, fill) -> None:
    box = (o.x - o.r, o.y - o.r, o.x + o.r, o.y + o.r)
    if o.shape == "circle":
        draw.ellipse(box, fill=fill)
    elif o.shape == "square":
        draw.rectangle(box, fill=fill)
    else:
        draw.polygon([(o.x, o.y - o.r), (o.x + o.r, o.y + o.r), (o.x - o.r, o.y + o.r)], fill=fill)


def render(s: Scene):
    """The scene as a PIL RGB image of IMAGE x IMAGE pixels."""
    from PIL import Image, ImageDraw
    img = Image.new("RGB", (IMAGE, IMAGE), BACKGROUND)
    d = ImageDraw.Draw(img)
    for o in s.objects:
        _draw(d, o, COLOURS[o.colour])
    return img


def object_map(s: Scene) -> np.ndarray:
    """[IMAGE, IMAGE] int: 0 for background, i + 1 where object i of s.objects is drawn."""
    from PIL import Image, ImageDraw
    img = Image.new("L", (IMAGE, IMAGE), 0)
    d = ImageDraw.Draw(img)
    for i, o in enumerate(s.objects):
        _draw(d, o, i + 1)
    return np.asarray(img, dtype=np.int64)


def patch_labels(s: Scene, patch: int) -> tuple[np.ndarray, np.ndarray]:
    """Per patch (row-major, [N]): colour index + 1 and shape index + 1 of the object covering most of it
    (at least a quarter of its pixels), else 0 (background). What the vision encoder learns to name."""
    m = object_map(s)
    g = IMAGE // patch
    blocks = m.reshape(g, patch, g, patch).transpose(0, 2, 1, 3).reshape(g * g, patch * patch)
    colour = np.zeros(g * g, dtype=np.int64)
    shape = np.zeros(g * g, dtype=np.int64)
    for k, b in enumerate(blocks):
        counts = np.bincount(b, minlength=len(s.objects) + 1)
        counts[0] = 0
        if counts.max() * 4 >= patch * patch:
            o = s.objects[int(counts.argmax()) - 1]
            colour[k] = list(COLOURS).index(o.colour) + 1
            shape[k] = SHAPES.index(o.shape) + 1
    return colour, shape


def words() -> list[str]:
    """Every word a caption or the prompt uses."""
    return ["a", "left", "of", *ROW_WORDS, *COLOURS, *SHAPES, *PROMPT.split()]
