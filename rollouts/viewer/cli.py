"""`lumos view FILE_OR_FOLDER... [--port N]`: the viewer's config and command (imports Flask only when run)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ViewConfig:
    """Look at trajectory files in a browser (served on 127.0.0.1)."""

    paths: list[str] = field(default_factory=list)
    """trajectory files or folders (searched for *.jsonl); nothing outside them is read"""
    image_root: list[str] = field(default_factory=list)
    """more folders the images of file task sets (A-OKVQA, ScienceQA) may be read from, with their task files; the viewed folders always count"""
    port: int = 0
    """port on 127.0.0.1; 0 lets the OS pick one"""
    refresh_s: int = 5
    """seconds between reloads of a page over a file still being written (0: never)"""
    duration_s: float = 0.0
    """stop after this many seconds; 0 serves until Ctrl-C"""

    def __post_init__(self) -> None:
        if not self.paths:
            raise ValueError("give at least one trajectory file or folder")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be 0..65535, got {self.port}")
        if self.refresh_s < 0:
            raise ValueError(f"refresh_s must be >= 0, got {self.refresh_s}")
        if self.duration_s < 0:
            raise ValueError(f"duration_s must be >= 0, got {self.duration_s}")
        for folder in self.image_root:
            if not Path(folder).expanduser().is_dir():
                raise ValueError(f"--image-root {folder}: not a folder")


def run_view(config: ViewConfig) -> int:
    import logging

    from rollouts.viewer.app import create_app
    from rollouts.viewer.catalog import Catalog
    from rollouts.viewer.server import ViewerServer

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    catalog = Catalog.from_paths(config.paths)
    app = create_app(catalog, refresh_s=config.refresh_s, image_roots=config.image_root)
    server = ViewerServer(app, port=config.port).start()
    print(f"lumos view: {len(catalog.files())} trajectory files at {server.url}  (Ctrl-C stops)", flush=True)
    try:
        server.serve_for(config.duration_s)
    finally:
        app.extensions["lumos_shop_replays"].close()
    return 0
