"""Train a small Qwen-style byte-level BPE tokenizer offline, so test models need no model hub.

Byte-level BPE is lossless for any text (no normalizer on purpose), and the Qwen control and
tool-calling markers are added tokens, so each is one id exactly as in real Qwen vocabularies.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

from codemode_trainer.files import write_text_atomic

#: Control tokens that are "special" (skipped by ``decode(skip_special_tokens=True)``).
CONTROL_TOKENS: tuple[str, ...] = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
#: Markup tokens that stay visible in decoded text, so tool-call parsers can see them.
MARKUP_TOKENS: tuple[str, ...] = (
    "<tool_call>",
    "</tool_call>",
    "<think>",
    "</think>",
    "<tool_response>",
    "</tool_response>",
)
SPECIAL_TOKENS: tuple[str, ...] = CONTROL_TOKENS + MARKUP_TOKENS
EOS_TOKEN = "<|im_end|>"
PAD_TOKEN = "<|endoftext|>"

# The pre-tokenizer split of Qwen2/Qwen3 tokenizers (contractions, letters, single digits, ...).
_QWEN_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# Generic text, so an empty corpus still yields useful merges for English and Python.
FALLBACK_CORPUS: tuple[str, ...] = (
    "The quick brown fox jumps over the lazy dog. What is the weather like today in Paris?",
    "Please find the file, read it, and tell me what the function returns for this input.",
    "You are a helpful assistant. Answer the question of the user as well as you can.",
    "Can you list all the open issues, then send a message to the team with a short summary?",
    "Search the web for the latest news about the project and write the result to a file.",
    "Convert 100 dollars to euros, add the numbers, and show me the total of the invoice.",
    "Schedule a meeting for tomorrow at 10am with Alice and Bob, and set a reminder.",
    "def main(argv: list[str] | None = None) -> int:\n    return 0\n",
    "import json\nfrom pathlib import Path\n\n\nclass Config:\n    name: str = 'default'\n",
    "async def fetch(url: str) -> dict[str, object]:\n    result = await client.get(url)\n"
    "    return result.json()\n",
    "for item in items:\n    if item is None:\n        continue\n"
    "    print(f'{item.name}: {item.value}')\n",
    "with open(path, encoding='utf-8') as handle:\n    data = json.load(handle)\n",
    '{"name": "get_weather", "arguments": {"city": "Berlin", "unit": "celsius"}}',
    "try:\n    value = int(text)\nexcept ValueError as error:\n    raise SystemExit(str(error))\n",
    "Numbers 0 1 2 3 4 5 6 7 8 9 and symbols ( ) [ ] { } < > = + - * / % & | ^ ~ ! ? : ; , . _",
)


def _lines(corpus: Iterable[str]) -> Iterator[str]:
    for text in corpus:
        yield from text.splitlines(keepends=True)


def _empty_tokenizer() -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_QWEN_SPLIT), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    return tok


def train_tokenizer(corpus: Iterable[str], vocab_size: int) -> Tokenizer:
    """Train on ``corpus`` plus the fallback text; the result may be smaller than ``vocab_size``."""
    tok = _empty_tokenizer()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    texts = [*_lines(corpus), *_lines(FALLBACK_CORPUS)]
    tok.train_from_iterator(texts, trainer=trainer)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in CONTROL_TOKENS])
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in MARKUP_TOKENS])
    return tok


def _tokenizer_config(tok: Tokenizer, chat_template: str) -> dict[str, Any]:
    added = {
        str(tok.token_to_id(t)): {
            "content": t,
            "lstrip": False,
            "normalized": False,
            "rstrip": False,
            "single_word": False,
            "special": t in CONTROL_TOKENS,
        }
        for t in SPECIAL_TOKENS
    }
    return {
        "add_bos_token": False,
        "add_prefix_space": False,
        "added_tokens_decoder": added,
        "bos_token": None,
        "chat_template": chat_template,
        "clean_up_tokenization_spaces": False,
        "eos_token": EOS_TOKEN,
        "errors": "replace",
        "model_max_length": 32768,
        "pad_token": PAD_TOKEN,
        "split_special_tokens": False,
        "tokenizer_class": "PreTrainedTokenizerFast",
        "unk_token": None,
    }


def write_tokenizer(tok: Tokenizer, out: Path, chat_template: str) -> None:
    """Write ``tokenizer.json`` and ``tokenizer_config.json`` as transformers expects them."""
    tok.save(str(out / "tokenizer.json"))
    config = _tokenizer_config(tok, chat_template)
    text = json.dumps(config, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    write_text_atomic(out / "tokenizer_config.json", text)


def special_token_ids(tok: Tokenizer) -> dict[str, int]:
    """Map each special token to its id; fails loudly if one did not become a single token."""
    ids: dict[str, int] = {}
    for token in SPECIAL_TOKENS:
        token_id = tok.token_to_id(token)
        if token_id is None:
            raise RuntimeError(f"tokenizer lost the special token {token!r}")
        ids[token] = token_id
    return ids
