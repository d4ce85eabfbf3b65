"""Every supported transformer family: ``--head auto`` picks the right head, the stacks fold ×N, roles and
labels name the attention variant, norm, MLP and positions, and the explanations quote the model's own
numbers (checked against its config.json and against the parameter counts of the transformers model)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from families import FAMILIES, config_folder  # noqa: E402

import bertviz_graph as bg  # noqa: E402
from bertviz_graph.cli import main  # noqa: E402
from bertviz_graph.details import node_details  # noqa: E402

# family -> (head auto picks, {series id: members}) — member counts from the configs' layer fields
EXPECTED = {
    "bert": ("mlm", {"bert.encoder.layer[0-1]": 2}),
    "roberta": ("mlm", {"roberta.encoder.layer[0-1]": 2}),
    "xlm-roberta": ("mlm", {"roberta.encoder.layer[0-1]": 2}),
    "electra": ("mlm", {"electra.encoder.layer[0-1]": 2}),
    "minilm": ("base", {"encoder.layer[0-1]": 2}),
    "albert": ("mlm", {"albert.encoder.albert_layer_groups.0[×2]": 2}),
    "distilbert": ("mlm", {"distilbert.transformer.layer[0-1]": 2}),
    "deberta-v2": ("mlm", {"deberta.encoder.layer[0-1]": 2}),
    "gpt2": ("causal-lm", {"transformer.h[0-1]": 2}),
    "llama": ("causal-lm", {"model.layers[0-1]": 2}),
    "mistral": ("causal-lm", {"model.layers[0-1]": 2}),
    # T5's block 0 alone holds the relative-position bias table: blocks 1..N-1 fold, in each stack
    "t5": ("seq2seq-lm", {"encoder.block[1-2]": 2, "decoder.block[1-2]": 2}),
    "bart": ("seq2seq-lm", {"model.encoder.layers[0-1]": 2, "model.decoder.layers[0-1]": 2}),
}
BERT_BASE_CONSTANTS = ("768", "3072", "30522", "token + position + type")


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    root = tmp_path_factory.mktemp("families")
    return {fam: bg.trace(str(config_folder(root, fam))) for fam in FAMILIES}


def _hf_model(family: str, head: str):
    """The same model built by transformers directly (meta device): the independent parameter counts."""
    import transformers

    from bertviz_graph.sources.build import make_config
    from bertviz_graph.sources.heads import auto_class

    with torch.device("meta"):
        return getattr(transformers, auto_class(head)).from_config(make_config(FAMILIES[family]))


def _facts(cfg: dict) -> dict:
    get = lambda *ks: next(cfg[k] for k in ks if k in cfg)  # noqa: E731
    hidden = get("hidden_size", "dim", "n_embd", "d_model")
    heads = get("num_attention_heads", "n_heads", "n_head", "num_heads", "encoder_attention_heads")
    ffn = next((cfg[k] for k in ("intermediate_size", "hidden_dim", "d_ff", "encoder_ffn_dim") if k in cfg),
               4 * hidden)
    return {"hidden": hidden, "heads": heads, "kv": cfg.get("num_key_value_heads", heads), "ffn": ffn,
            "d_head": cfg.get("d_kv", hidden // heads), "vocab": cfg["vocab_size"]}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_family_traces_folds_and_picks_its_head(traced, family):
    g = traced[family]
    head, series = EXPECTED[family]
    assert g.meta["head"] == head
    got = {s.id: len(s.members) for s in g.hierarchy.series()}
    assert got == series


@pytest.mark.parametrize("family", list(FAMILIES))
def test_labels_and_explanations_quote_the_config(traced, family):
    g = traced[family]
    h = g.hierarchy
    f = _facts(FAMILIES[family])
    model = _hf_model(family, g.meta["head"])
    texts: list[str] = []
    by_role: dict[str, list[str]] = {}
    for gid, grp in h.groups.items():
        if grp.kind != "module" or "@" in gid or "<" in gid:
            continue
        d = node_details(h, gid)
        texts += [d["title"], d["subtitle"], d["explanation"]]
        by_role.setdefault(grp.role, []).append(gid)
        if grp.role in ("layer", "attention", "ffn") and gid:
            # the real count, not a formula: the same module's parameters as transformers builds them
            n = sum(p.numel() for p in model.get_submodule(gid).parameters())
            assert f"It holds {n:,}" in d["explanation"] or f"It holds {n} " in d["explanation"], (gid, n)
    for gid in by_role["attention"]:
        grp = h.groups[gid]
        if grp.label == "Attention":  # a wrapper of the attention proper
            continue
        text = node_details(h, gid)["explanation"]
        assert f"{f['heads']} heads of {f['d_head']} neurons" in text, (gid, text)
        if f["kv"] != f["heads"]:
            assert f"{f['kv']} key/value head" in grp.sublabel and f"{f['kv']} key/value head" in text
            assert f"key and value {f['hidden']}→{f['kv'] * f['d_head']}" in text
    for gid in by_role.get("ffn", []):  # BART and ALBERT hold fc1/fc2 (ffn, ffn_output) in the layer itself
        text = node_details(h, gid)["explanation"]
        assert f"{f['hidden']}→{f['ffn']}" in text, (gid, text)
    for gid in by_role.get("layernorm", []):
        text = node_details(h, gid)["explanation"]
        width = re.search(r"over the (\d+) neurons", text)
        assert width and int(width.group(1)) == f["hidden"], (gid, text)
    # (real parameter counts were checked above; Llama-tiny's attention really holds 3072)
    joined = re.sub(r"It holds [\d,]+ trained numbers", "", "\n".join(texts))
    for const in BERT_BASE_CONSTANTS:  # none of these tiny configs has a BERT-base number
        assert not re.search(rf"(?<![\d,]){re.escape(const)}(?![\d,])", joined), (family, const)


def test_variants_are_named(traced):
    def subs(fam, role):
        h = traced[fam].hierarchy
        return {h.groups[x].label + " · " + h.groups[x].sublabel for x in h.groups
                if h.groups[x].role == role and "@" not in x}

    assert any("4 query heads, 2 key/value heads (grouped-query)" in s and "rotary" in s
               for s in subs("llama", "attention"))
    assert any("1 key/value head (multi-query)" in s for s in subs("mistral", "attention"))
    for fam in ("llama", "mistral"):
        assert any(s.startswith("Causal self-attention") for s in subs(fam, "attention"))
        assert any("SwiGLU" in s and "SiLU" in s for s in subs(fam, "ffn"))
        assert any("RMSNorm(32)" in s for s in subs(fam, "layernorm"))
        assert subs(fam, "rotary")
    assert any("GEGLU" in s for s in subs("t5", "ffn"))
    assert any("RMSNorm(32)" in s for s in subs("t5", "layernorm"))
    for fam in ("t5", "bart"):
        assert any(s.startswith("Cross-attention") for s in subs(fam, "attention")), fam
        assert any("Decoder" in s for s in subs(fam, "decoder")), fam
    assert any("GELU (tanh approx.)" in s for s in subs("gpt2", "ffn"))
    assert any("GELU" in s and "Linear 32→64" in s for s in subs("bert", "ffn"))
    # the embedding lookups a model really holds
    assert any("token + type + position" in s for s in subs("bert", "embeddings"))
    assert any("· token + position" in s and "type" not in s for s in subs("distilbert", "embeddings"))
    assert any(s.endswith("· token → 32") for s in subs("deberta-v2", "embeddings"))  # relative positions


def test_sharing_and_ties_come_from_the_model(traced):
    albert, bert = traced["albert"].hierarchy, traced["bert"].hierarchy
    enc = node_details(albert, "albert.encoder")["explanation"]
    assert "shared trained weights" in enc and "its own" not in enc
    enc = node_details(bert, "bert.encoder")["explanation"]
    assert "each has its own trained weights" in enc
    series = node_details(albert, "albert.encoder.albert_layer_groups.0[×2]")["explanation"]
    assert "2 applications of one set of shared trained weights" in series
    assert "tied to word_embeddings" in node_details(bert, "cls")["explanation"]
    assert "tied to word_embeddings" in node_details(traced["roberta"].hierarchy, "lm_head")["explanation"]
    # Llama's config unties its LM head: no tie claimed anywhere
    llama = traced["llama"].hierarchy
    assert not any("tied" in node_details(llama, x)["explanation"] for x in llama.groups if "@" not in x)


def _bad(capsys, *argv: str) -> str:
    code = main(list(argv))
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and err.startswith("error: ") and len(err.strip().splitlines()) == 2
    return err


def test_unsupported_head_names_the_heads_that_exist(capsys, tmp_path):
    err = _bad(capsys, "info", "gpt2", "--head", "mlm")
    assert "gpt2 has no masked-language-model head" in err and "base, causal-lm, cls, qa" in err
    err = _bad(capsys, "info", str(config_folder(tmp_path, "bert")), "--head", "seq2seq-lm")
    assert "bert has no encoder-decoder LM head" in err and "mlm" in err


def test_family_that_does_not_trace_is_one_line(capsys, tmp_path):
    folder = tmp_path / "lf"
    folder.mkdir()
    (folder / "config.json").write_text(
        '{"model_type": "longformer", "vocab_size": 100, "hidden_size": 32, "num_hidden_layers": 1,'
        ' "num_attention_heads": 2, "intermediate_size": 64, "attention_window": 4}')
    err = _bad(capsys, "info", str(folder), "--no-cache")
    assert "cannot trace" in err and "longformer" in err and "bg.trace(model" in err
    bad_cfg = tmp_path / "funnel"
    bad_cfg.mkdir()
    (bad_cfg / "config.json").write_text('{"model_type": "funnel", "num_hidden_layers": 2}')
    assert "unsupported config for funnel" in _bad(capsys, "info", str(bad_cfg))


def test_llama_70b_shape_preset_is_the_real_shape():
    from bertviz_graph.sources.presets import preset_config

    cfg = preset_config("llama-70b-shape")
    assert (cfg["num_hidden_layers"], cfg["hidden_size"], cfg["num_attention_heads"],
            cfg["num_key_value_heads"]) == (80, 8192, 64, 8)
