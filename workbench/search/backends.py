"""Embedding backends for all-MiniLM-L6-v2: plain fp32, torch bf16 and ONNX Runtime fp32/int8 (VNNI)."""

# Measured on 2 AVX-512 cores (bench/embed_methods.py): bf16 2.0-2.5x fp32 with unchanged retrieval;
# ONNX int8 ~2.5x but moves ~12% of top-3 results, so it is opt-in (prefer="onnx-int8").

from __future__ import annotations

import hashlib
import logging
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Protocol

import numpy as np

log = logging.getLogger(__name__)

DIM = 384
EXPORT_VERSION = "1"  # bump when the export/quantization recipe changes; old artefacts are ignored
METHODS = ("auto", "fp32", "bf16", "onnx-fp32", "onnx-int8")


def cpu_flags() -> set[str]:
    """CPU feature flags from /proc/cpuinfo; empty set if unreadable."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


class Encoder(Protocol):
    """Turns texts into float32 (n, 384) L2-normalized vectors."""

    name: str
    model: Any  # the SentenceTransformer, kept for tokenization
    tokenizer: Any

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Embed texts."""
        ...


class SentenceTransformerEncoder:
    """The baseline: plain `SentenceTransformer.encode` in fp32."""

    def __init__(self, model: Any, name: str = "fp32") -> None:
        """Wrap a loaded SentenceTransformer."""
        self.name, self.model, self.tokenizer = name, model, model.tokenizer

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Embed texts with sentence-transformers itself."""
        if not texts:
            return np.zeros((0, DIM), np.float32)
        out = self.model.encode(list(texts), batch_size=batch_size, convert_to_numpy=True,
                                normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(out, dtype=np.float32)


class PooledEncoder:
    """Tokenize, sort by token count, run a backend per batch, then mean-pool and L2-normalize."""

    def __init__(self, model: Any, name: str) -> None:
        """Keep the SentenceTransformer for its tokenizer and max_seq_length."""
        self.name, self.model, self.tokenizer = name, model, model.tokenizer
        self.max_len = int(model.max_seq_length)
        self.pad_id = int(self.tokenizer.pad_token_id or 0)

    def _hidden(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Last hidden state (batch, seq, 384) as float32."""
        raise NotImplementedError

    def _token_ids(self, texts: list[str]) -> list[list[int]]:
        """Token ids with [CLS] and [SEP], cut to the model's length."""
        return self.tokenizer(list(texts), truncation=True, max_length=self.max_len)["input_ids"]

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Embed texts; same tokenization, pooling and normalization as sentence-transformers."""
        out = np.zeros((len(texts), DIM), np.float32)
        if not texts:
            return out
        ids = self._token_ids(texts)
        order = np.argsort([-len(x) for x in ids], kind="stable")
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            width = len(ids[idx[0]])
            batch = np.full((len(idx), width), self.pad_id, np.int64)
            mask = np.zeros((len(idx), width), np.int64)
            for row, i in enumerate(idx):
                batch[row, :len(ids[i])] = ids[i]
                mask[row, :len(ids[i])] = 1
            hidden = self._hidden(batch, mask)
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(1) / np.maximum(weights.sum(1), 1e-9)
            out[idx] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return out


class TorchEncoder(PooledEncoder):
    """The Hugging Face BertModel in torch, optionally cast (bf16) or replaced (e.g. quantized)."""

    def __init__(self, model: Any, name: str, dtype: Any = None, module: Any = None) -> None:
        """Use `module` or the model's own BertModel, cast to `dtype` when given."""
        import torch

        super().__init__(model, name)
        self.torch = torch
        self.bert = (module if module is not None else model[0].auto_model).eval()
        if dtype is not None:
            self.bert.to(dtype)

    def _hidden(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Run the BertModel under inference_mode."""
        torch = self.torch
        with torch.inference_mode():
            h = self.bert(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask))
            return h.last_hidden_state.float().numpy()


class OnnxEncoder(PooledEncoder):
    """An exported (optionally int8-quantized) graph run by ONNX Runtime on the CPU."""

    def __init__(self, model: Any, path: Path, name: str) -> None:
        """Open an ONNX Runtime session on `path`."""
        import onnxruntime as ort

        super().__init__(model, name)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}

    def _hidden(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Run the session."""
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        return self.session.run(None, {k: v for k, v in feed.items() if k in self.inputs})[0]


class LightOnnxEncoder(PooledEncoder):
    """The exported fp32 graph with the model's fast tokenizer: no torch, no transformers, so a
    one-shot command loads it in a fraction of a second. Same vectors as the fp32 model (cosine 1.0
    to 1e-6); used for questions, while documents are embedded by the configured backend."""

    def __init__(self, model_dir: Path, path: Path) -> None:
        """Open the tokenizer (tokenizer.json) and an ONNX Runtime session on `path`."""
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.name = "onnx-fp32-light"
        self.tokenizer = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        self.max_len = _max_seq_length(Path(model_dir))
        self.pad_id = self.tokenizer.token_to_id("[PAD]") or 0
        self.sep_id = self.tokenizer.token_to_id("[SEP]")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    def _token_ids(self, texts: list[str]) -> list[list[int]]:
        """Token ids with [CLS] and [SEP]; cut to the model's length keeping the final [SEP]."""
        out = [e.ids for e in self.tokenizer.encode_batch(list(texts))]
        return [x if len(x) <= self.max_len else [*x[: self.max_len - 1], self.sep_id] for x in out]

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(e.ids) for e in self.tokenizer.encode_batch(list(texts))]

    def _hidden(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        return self.session.run(None, feed)[0]


def _max_seq_length(model_dir: Path) -> int:
    import json

    config = model_dir / "sentence_bert_config.json"
    return int(json.loads(config.read_text()).get("max_seq_length", 256)) if config.exists() else 256


def load_light_encoder(model_dir: Path, cache_dir: Path) -> LightOnnxEncoder | None:
    """The torch-free encoder when the fp32 graph was exported into the cache, else None."""
    path = _artefact_dir(Path(model_dir), Path(cache_dir)) / "model-fp32.onnx"
    return LightOnnxEncoder(Path(model_dir), path) if path.exists() else None


def export_light_encoder(model_dir: Path, cache_dir: Path) -> bool:
    """Export the graphs (once; about 15 s with torch) so one-shot commands load fast. True when
    this call exported them, False when they were there already."""
    out_dir = _artefact_dir(Path(model_dir), Path(cache_dir))
    if (out_dir / "model-fp32.onnx").exists():
        return False
    from sentence_transformers import SentenceTransformer

    _export(SentenceTransformer(str(model_dir), device="cpu", local_files_only=True), out_dir)
    return True


def _classic_bert(bert: Any) -> Any:
    """BertModel forward in the classic form that ORT's optimizer fuses into Attention ops."""
    import torch

    class Classic(torch.nn.Module):
        def __init__(self) -> None:
            """Hold the BertModel."""
            super().__init__()
            self.b, self.nh = bert, bert.config.num_attention_heads
            self.hd = bert.config.hidden_size // self.nh

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            """Last hidden state; padding is masked with -10000 like transformers 4."""
            h = self.b.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)
            ext = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * -10000.0
            for layer in self.b.encoder.layer:
                sa = layer.attention.self
                q, k, v = (x.view(x.size(0), x.size(1), self.nh, self.hd).permute(0, 2, 1, 3)
                           for x in (sa.query(h), sa.key(h), sa.value(h)))
                probs = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.hd) + ext, dim=-1)
                ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous()
                ctx = ctx.view(ctx.size(0), ctx.size(1), self.nh * self.hd)
                h = layer.attention.output.LayerNorm(layer.attention.output.dense(ctx) + h)
                h = layer.output.LayerNorm(layer.output.dense(layer.intermediate(h)) + h)
            return h

    return Classic().eval()


def _export(model: Any, out_dir: Path) -> None:
    """Export, fuse (Attention, SkipLayerNorm, BiasGelu) and int8-quantize into out_dir, atomically."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer

    bert = model[0].auto_model.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        raw, fused, int8 = Path(tmp, "raw.onnx"), Path(tmp, "model-fp32.onnx"), Path(tmp, "model-int8.onnx")
        sample = model.tokenizer(["hello world", "a longer sentence"], padding=True, return_tensors="pt")
        args = (sample["input_ids"], sample["attention_mask"], torch.zeros_like(sample["input_ids"]))
        names = ["input_ids", "attention_mask", "token_type_ids"]
        with torch.no_grad():
            torch.onnx.export(_classic_bert(bert), args, str(raw), dynamo=False, opset_version=17,
                              input_names=names, output_names=["last_hidden_state"],
                              dynamic_axes={n: {0: "batch", 1: "seq"} for n in [*names, "last_hidden_state"]})
        cfg = bert.config
        opt = optimizer.optimize_model(str(raw), model_type="bert", num_heads=cfg.num_attention_heads,
                                       hidden_size=cfg.hidden_size, opt_level=0)
        if opt.get_fused_operator_statistics().get("Attention", 0) != cfg.num_hidden_layers:
            log.warning("ONNX attention fusion incomplete; the ONNX backends will be slower")
        opt.save_model_to_file(str(fused))
        # Per-channel int8 weights, dynamic uint8 activations (u8s8 is exact on VNNI); only weight MatMuls
        # and the fused QKV projection are quantized, attention scores stay fp32.
        root, level = logging.getLogger(), logging.getLogger().level
        root.setLevel(logging.ERROR)  # onnxruntime's quantizer advises on the root logger: not for users
        try:
            quantize_dynamic(str(fused), str(int8), weight_type=QuantType.QInt8, per_channel=True,
                             op_types_to_quantize=["MatMul", "Attention"],
                             extra_options={"MatMulConstBOnly": True, "DefaultTensorType": 1})
        finally:
            root.setLevel(level)
        for f in (fused, int8):
            os.replace(f, out_dir / f.name)


def _artefact_dir(model_dir: Path, cache_dir: Path) -> Path:
    """Cache folder keyed by model weights, onnxruntime version and recipe version."""
    import onnxruntime

    weights = sorted(Path(model_dir).glob("*.safetensors")) or sorted(Path(model_dir).glob("*.bin"))
    key = "|".join([str(Path(model_dir).resolve()), EXPORT_VERSION, onnxruntime.__version__,
                    *(f"{p.name}:{p.stat().st_size}:{int(p.stat().st_mtime)}" for p in weights)])
    return Path(cache_dir) / "onnx" / hashlib.sha1(key.encode()).hexdigest()[:16]


def _onnx(model: Any, model_dir: Path, cache_dir: Path, kind: str) -> Encoder:
    """ONNX encoder from the cache, exporting once if the artefact is missing."""
    out_dir = _artefact_dir(model_dir, cache_dir)
    path = out_dir / f"model-{kind}.onnx"
    if not path.exists():
        log.info("exporting %s to %s (one-off)", model_dir, out_dir)
        _export(model, out_dir)
    return OnnxEncoder(model, path, "onnx-int8-vnni" if kind == "int8" else "onnx-fp32")


def load_encoder(model_dir: Path, cache_dir: Path, prefer: str = "auto") -> Encoder:
    """Fastest backend with unchanged quality for this CPU (bf16, else fp32); fp32 on any failure."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    if prefer not in METHODS:
        raise ValueError(f"prefer must be one of {METHODS}, not {prefer!r}")
    model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
    flags = cpu_flags()
    chosen = [] if prefer == "fp32" else ["bf16"] if prefer == "auto" else [prefer]
    if prefer == "auto" and not {"avx512_bf16", "amx_bf16"} & flags:
        log.warning("CPU lacks avx512_bf16/amx_bf16 (bf16 would be emulated); using plain fp32 embeddings")
        chosen = []
    elif prefer == "onnx-int8" and not {"avx512_vnni", "avx_vnni"} & flags:
        log.warning("onnx-int8 without VNNI may saturate u8s8 products and is slow; using fp32")
        chosen = []
    for method in chosen:
        try:
            if method == "bf16":
                import torch

                return TorchEncoder(model, "bf16", dtype=torch.bfloat16)
            return _onnx(model, Path(model_dir), Path(cache_dir), method.removeprefix("onnx-"))
        except Exception as exc:  # noqa: BLE001 - any backend failure falls back
            log.warning("embedding backend %s failed (%s: %s); falling back", method, type(exc).__name__, exc)
            model[0].auto_model.float()
    return SentenceTransformerEncoder(model)
