"""``growthpace init DIR``: a study directory to start from, written from the workflow's own files
(those an installed wheel carries), so that ``cd DIR && growthpace run --configfile config.yaml`` is the
whole start and results/ and the store grow beside the config."""

from __future__ import annotations

from pathlib import Path

from .files import write_text_atomic
from .layout import workflow_root

# {file in DIR: file of the workflow it is copied from}
COPIED = {
    "config.yaml": "config/config.yaml",
    "paper.yaml": "config/studies/doit-paper.yaml",
    "CONFIG.md": "config/README.md",
    "profiles/slurm/config.yaml": "profiles/slurm/config.yaml",
}

README = """\
# A growthpace study

- `config.yaml`: a small study to start from (the embedded demo: a generated ten-ability suite and tiny
  LLaMA models pretrained here; 16 to 18 minutes on 2 CPU cores, no network).
- `paper.yaml`: the paper's study (DoIT, three real base models, recipes, CMMLU and AGIEval) for a GPU
  cluster; set its paths, or give Hugging Face Hub ids (`org/name@revision`), first.
- `CONFIG.md`: every key of a study config, what it does and its default.
- `profiles/slurm/config.yaml`: the Snakemake profile for SLURM; set your partition and account.

Run from this directory; `results/{study}/` and the artifact store (`store_dir`) are written here:

    growthpace run --configfile config.yaml --cores 2
    growthpace run --configfile paper.yaml --profile profiles/slurm
    growthpace status --configfile config.yaml

Each key of a config is checked before anything runs; every problem is listed at once, with its key.
"""


def init_study(target: Path, force: bool = False) -> list[Path]:
    """Write the study files into ``target`` (created if missing); existing files are an error unless
    ``force``, listed all at once. Returns the files written."""
    root = workflow_root()
    files = {target / name: (root / src).read_text(encoding="utf-8") for name, src in COPIED.items()}
    files[target / "README.md"] = README
    present = [p for p in files if p.exists()]
    if present and not force:
        raise FileExistsError("growthpace init: these files exist (give --force to overwrite them): "
                              + ", ".join(str(p) for p in present))
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, text)
    return list(files)
