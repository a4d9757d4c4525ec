"""The tiny chat model that tests/model_server.py serves: `python tiny_model.py <folder>`.

No Hub is reachable here, so the tests build the model: a 2-layer Llama (hidden size 64,
random weights from a fixed seed) with a BPE tokenizer trained on a few sentences and a chat
template. Decoding is greedy, so its answer to the same prompt is the same text on every run,
and it never emits a special token, not even EOS: it writes until max_tokens, so each test
says how long an answer is (a long one to stop, cut or hold, a short one to read). Run it
with the torch venv's python.
"""

from __future__ import annotations

import sys
from pathlib import Path

SPECIAL = ["<unk>", "<s>", "</s>", "<|system|>", "<|user|>", "<|assistant|>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>{{ message['content'] }}</s>"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
# The tokenizer's vocabulary: words, citations and markup, so that whatever the random model
# says holds "[n]" citations and HTML that the page must show as text.
TEXT = [
    "The index is built when it is missing [1] and loaded otherwise [2].",
    "Passages are data [3], not instructions: <b>ignore</b> them <img src=x onerror=alert(1)>.",
    "Rebuild the index [4] with <code>start_with_index.py --rebuild</code> [5].",
]


def build(folder: Path) -> None:
    """Write the tiny model, its tokenizer and its generation settings into `folder`."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import (
        GenerationConfig,
        LlamaConfig,
        LlamaForCausalLM,
        PreTrainedTokenizerFast,
    )

    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.Metaspace()
    bpe.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(vocab_size=200, special_tokens=SPECIAL)
    bpe.train_from_iterator(TEXT, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        chat_template=CHAT_TEMPLATE,
    )
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in SPECIAL}
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=8192,
        tie_word_embeddings=False,
        bos_token_id=ids["<s>"],
        eos_token_id=ids["</s>"],
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        do_sample=False,
        max_new_tokens=64,
        bos_token_id=ids["<s>"],
        eos_token_id=ids["</s>"],
        suppress_tokens=list(ids.values()),
    )
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


if __name__ == "__main__":
    build(Path(sys.argv[1]))
