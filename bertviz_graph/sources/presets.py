"""Model presets: Hugging Face configs shipped in the package, so nothing is downloaded at run time.

Each preset is the ``config.json`` of the public checkpoint (the fields that shape the graph); tracing a
preset is structure-only (no weights) unless a local checkpoint is given.
"""

from __future__ import annotations

_BERT = {
    "model_type": "bert",
    "vocab_size": 30522,
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "hidden_act": "gelu",
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
    "layer_norm_eps": 1e-12,
    "pad_token_id": 0,
}


def _bert(**kw) -> dict:
    return {**_BERT, **kw}


def _compact(layers: int, hidden: int) -> dict:
    # google/bert_uncased_L-{L}_H-{H}_A-{H/64}: heads of 64, FFN 4×hidden.
    return _bert(num_hidden_layers=layers, hidden_size=hidden, num_attention_heads=hidden // 64,
                 intermediate_size=4 * hidden)


PRESETS: dict[str, dict] = {
    "bert-base-uncased": _bert(),
    "bert-base-cased": _bert(vocab_size=28996),
    "bert-large-uncased": _bert(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                                intermediate_size=4096),
    "bert-base-chinese": _bert(vocab_size=21128),
    "bert-tiny": _compact(2, 128),
    "bert-mini": _compact(4, 256),
    "bert-small": _compact(4, 512),
    "bert-medium": _compact(8, 512),
    "distilbert-base-uncased": {
        "model_type": "distilbert", "vocab_size": 30522, "dim": 768, "n_layers": 6, "n_heads": 12,
        "hidden_dim": 3072, "activation": "gelu", "max_position_embeddings": 512,
        "sinusoidal_pos_embds": False, "pad_token_id": 0,
    },
    "roberta-base": _bert(model_type="roberta", vocab_size=50265, max_position_embeddings=514,
                          type_vocab_size=1, layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0,
                          eos_token_id=2),
    "albert-base-v2": {
        "model_type": "albert", "vocab_size": 30000, "embedding_size": 128, "hidden_size": 768,
        "num_hidden_layers": 12, "num_hidden_groups": 1, "num_attention_heads": 12,
        "intermediate_size": 3072, "inner_group_num": 1, "hidden_act": "gelu_new",
        "max_position_embeddings": 512, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
        "pad_token_id": 0, "bos_token_id": 2, "eos_token_id": 3,
    },
    "all-MiniLM-L6-v2": _bert(hidden_size=384, num_hidden_layers=6, intermediate_size=1536),
    "MiniLM-L12-H384": _bert(hidden_size=384, num_hidden_layers=12, intermediate_size=1536),
    "xlm-roberta-base": _bert(model_type="xlm-roberta", vocab_size=250002, max_position_embeddings=514,
                              type_vocab_size=1, layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0,
                              eos_token_id=2, architectures=["XLMRobertaForMaskedLM"]),
    "electra-small-discriminator": _bert(model_type="electra", embedding_size=128, hidden_size=256,
                                         num_attention_heads=4, intermediate_size=1024,
                                         architectures=["ElectraForPreTraining"]),
    "deberta-v3-small": _bert(model_type="deberta-v2", vocab_size=128100, num_hidden_layers=6,
                              type_vocab_size=0, layer_norm_eps=1e-7, relative_attention=True,
                              max_relative_positions=-1, position_buckets=256, norm_rel_ebd="layer_norm",
                              share_att_key=True, pos_att_type=["p2c", "c2p"], position_biased_input=False,
                              architectures=["DebertaV2ForMaskedLM"]),
    # Decoders: GPT-2 (learned positions, LayerNorm, GELU MLP, tied LM head) and Llama-style (rotary
    # positions, RMSNorm, SwiGLU MLP, grouped-query attention).
    "gpt2": {
        "model_type": "gpt2", "vocab_size": 50257, "n_positions": 1024, "n_embd": 768, "n_layer": 12,
        "n_head": 12, "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5,
        "bos_token_id": 50256, "eos_token_id": 50256, "architectures": ["GPT2LMHeadModel"],
    },
    "llama-tiny": {
        "model_type": "llama", "vocab_size": 1000, "hidden_size": 64, "intermediate_size": 176,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "hidden_act": "silu",
        "max_position_embeddings": 256, "rms_norm_eps": 1e-5, "tie_word_embeddings": False,
        "architectures": ["LlamaForCausalLM"],
    },
    # Llama-3-70B's shape (structure only; meta device): 80 layers, hidden 8192, GQA 64 query / 8 KV heads.
    "llama-70b-shape": {
        "model_type": "llama", "vocab_size": 128256, "hidden_size": 8192, "intermediate_size": 28672,
        "num_hidden_layers": 80, "num_attention_heads": 64, "num_key_value_heads": 8, "hidden_act": "silu",
        "max_position_embeddings": 8192, "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
        "tie_word_embeddings": False, "bos_token_id": 128000, "eos_token_id": 128001,
        "architectures": ["LlamaForCausalLM"],
    },
    "mistral-7b-shape": {
        "model_type": "mistral", "vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 14336,
        "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8, "hidden_act": "silu",
        "max_position_embeddings": 32768, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "sliding_window": 4096,
        "tie_word_embeddings": False, "architectures": ["MistralForCausalLM"],
    },
    # Encoder-decoders: an encoder stack and a decoder stack (with cross-attention), each folded.
    "t5-small": {
        "model_type": "t5", "vocab_size": 32128, "d_model": 512, "d_kv": 64, "d_ff": 2048, "num_layers": 6,
        "num_decoder_layers": 6, "num_heads": 8, "relative_attention_num_buckets": 32,
        "feed_forward_proj": "relu", "layer_norm_epsilon": 1e-6, "pad_token_id": 0, "eos_token_id": 1,
        "decoder_start_token_id": 0, "architectures": ["T5ForConditionalGeneration"],
    },
    "bart-base": {
        "model_type": "bart", "vocab_size": 50265, "d_model": 768, "encoder_layers": 6, "decoder_layers": 6,
        "encoder_attention_heads": 12, "decoder_attention_heads": 12, "encoder_ffn_dim": 3072,
        "decoder_ffn_dim": 3072, "activation_function": "gelu", "max_position_embeddings": 1024,
        "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2, "decoder_start_token_id": 2,
        "architectures": ["BartForConditionalGeneration"],
    },
    # A 48-layer, 1024-wide BERT (about 640M parameters): the structure-only stress test.
    "bert-xl-48": _bert(hidden_size=1024, num_hidden_layers=48, num_attention_heads=16,
                        intermediate_size=4096),
}

# Aliases people type (Hub ids with their organisation).
ALIASES: dict[str, str] = {
    "google-bert/bert-base-uncased": "bert-base-uncased",
    "google-bert/bert-base-cased": "bert-base-cased",
    "google-bert/bert-large-uncased": "bert-large-uncased",
    "google-bert/bert-base-chinese": "bert-base-chinese",
    "prajjwal1/bert-tiny": "bert-tiny",
    "prajjwal1/bert-mini": "bert-mini",
    "prajjwal1/bert-small": "bert-small",
    "prajjwal1/bert-medium": "bert-medium",
    "google/bert_uncased_L-2_H-128_A-2": "bert-tiny",
    "google/bert_uncased_L-4_H-256_A-4": "bert-mini",
    "google/bert_uncased_L-4_H-512_A-8": "bert-small",
    "google/bert_uncased_L-8_H-512_A-8": "bert-medium",
    "distilbert/distilbert-base-uncased": "distilbert-base-uncased",
    "FacebookAI/roberta-base": "roberta-base",
    "albert/albert-base-v2": "albert-base-v2",
    "sentence-transformers/all-MiniLM-L6-v2": "all-MiniLM-L6-v2",
    "microsoft/MiniLM-L12-H384-uncased": "MiniLM-L12-H384",
    "FacebookAI/xlm-roberta-base": "xlm-roberta-base",
    "google/electra-small-discriminator": "electra-small-discriminator",
    "microsoft/deberta-v3-small": "deberta-v3-small",
    "openai-community/gpt2": "gpt2",
    "google-t5/t5-small": "t5-small",
    "facebook/bart-base": "bart-base",
}

DEFAULT_MODEL = "bert-base-uncased"


def preset_config(name: str) -> dict | None:
    key = ALIASES.get(name, name)
    cfg = PRESETS.get(key)
    return dict(cfg) if cfg is not None else None


def preset_names() -> list[str]:
    return list(PRESETS)
