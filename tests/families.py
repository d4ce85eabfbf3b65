"""Tiny configs (2-3 layers, hidden 32) of every transformer family the tool supports, for fast tests.

Each is a config.json as the Hub ships it (model_type, architectures, the family's own field names),
so the tests go the user's way: a config folder, ``--head auto``, the meta device.
"""

from __future__ import annotations

import json
from pathlib import Path

_BERTISH = {"vocab_size": 120, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
            "intermediate_size": 64, "max_position_embeddings": 64, "type_vocab_size": 2, "hidden_act": "gelu"}

FAMILIES: dict[str, dict] = {
    "bert": {"model_type": "bert", **_BERTISH, "architectures": ["BertForMaskedLM"]},
    "roberta": {"model_type": "roberta", **_BERTISH, "type_vocab_size": 1, "pad_token_id": 1,
                "architectures": ["RobertaForMaskedLM"]},
    "xlm-roberta": {"model_type": "xlm-roberta", **_BERTISH, "type_vocab_size": 1, "pad_token_id": 1,
                    "architectures": ["XLMRobertaForMaskedLM"]},
    "electra": {"model_type": "electra", **_BERTISH, "embedding_size": 16,
                "architectures": ["ElectraForMaskedLM"]},
    "minilm": {"model_type": "bert", **_BERTISH, "hidden_act": "gelu", "architectures": ["BertModel"]},
    "albert": {"model_type": "albert", **_BERTISH, "embedding_size": 16, "num_hidden_groups": 1,
               "inner_group_num": 1, "hidden_act": "gelu_new", "architectures": ["AlbertForMaskedLM"]},
    "distilbert": {"model_type": "distilbert", "vocab_size": 120, "dim": 32, "n_layers": 2, "n_heads": 2,
                   "hidden_dim": 64, "activation": "gelu", "max_position_embeddings": 64,
                   "architectures": ["DistilBertForMaskedLM"]},
    "deberta-v2": {"model_type": "deberta-v2", **_BERTISH, "type_vocab_size": 0, "relative_attention": True,
                   "position_buckets": 16, "norm_rel_ebd": "layer_norm", "share_att_key": True,
                   "pos_att_type": ["p2c", "c2p"], "position_biased_input": False,
                   "architectures": ["DebertaV2ForMaskedLM"]},
    "gpt2": {"model_type": "gpt2", "vocab_size": 120, "n_positions": 64, "n_embd": 32, "n_layer": 2, "n_head": 2,
             "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"]},
    "llama": {"model_type": "llama", "vocab_size": 120, "hidden_size": 32, "intermediate_size": 88,
              "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "hidden_act": "silu",
              "max_position_embeddings": 64, "tie_word_embeddings": False, "architectures": ["LlamaForCausalLM"]},
    "mistral": {"model_type": "mistral", "vocab_size": 120, "hidden_size": 32, "intermediate_size": 88,
                "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 1, "hidden_act": "silu",
                "max_position_embeddings": 64, "tie_word_embeddings": False,
                "architectures": ["MistralForCausalLM"]},
    "t5": {"model_type": "t5", "vocab_size": 120, "d_model": 32, "d_kv": 8, "d_ff": 64, "num_layers": 3,
           "num_decoder_layers": 3, "num_heads": 4, "relative_attention_num_buckets": 8,
           "feed_forward_proj": "gated-gelu", "decoder_start_token_id": 0,
           "architectures": ["T5ForConditionalGeneration"]},
    "bart": {"model_type": "bart", "vocab_size": 120, "d_model": 32, "encoder_layers": 2, "decoder_layers": 2,
             "encoder_attention_heads": 2, "decoder_attention_heads": 2, "encoder_ffn_dim": 64,
             "decoder_ffn_dim": 64, "activation_function": "gelu", "max_position_embeddings": 64,
             "architectures": ["BartForConditionalGeneration"]},
}


def config_folder(root: Path, family: str, **changes) -> Path:
    """A folder holding only config.json (structure only), as save_pretrained would write it."""
    folder = root / family
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({**FAMILIES[family], **changes}))
    return folder
