"""Write sample task images (3x upscaled PNGs) and their questions to a folder for people to look
at; default /tmp/lumos_multimodal_samples. Prints one JSON line with the files."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass
class Args:
    out_dir: str = "/tmp/lumos_multimodal_samples"
    """folder for the PNGs and questions.json"""
    per_family: int = 2
    seed: int = 0


def main(args: Args = Args()) -> dict:
    from PIL import Image

    from lumos_envs.envs.multimodal import task_image
    from lumos_envs.tasks.registry import load_tasks
    from lumos_envs.tasks.synthetic_multimodal import FAMILIES

    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for family in FAMILIES:
        tasks = load_tasks(f"synthetic:{family}?size={args.per_family}&seed={args.seed}")
        for i in range(len(tasks)):
            task = tasks[i]
            path = out / f"{task.id}.png"
            Image.fromarray(task_image(task).observation).resize((384, 384), Image.Resampling.NEAREST).save(path)
            rows.append({"file": str(path), "question": task.question, "answer": task.answer})
    (out / "questions.json").write_text(json.dumps(rows, indent=1))
    result = {"bench": "multimodal_samples", "args": asdict(args), "files": len(rows), "out_dir": str(out)}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
