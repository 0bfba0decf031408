"""Where the steering sites of a Hugging Face causal LM are, found by structure rather than by name
of the architecture: the decoder blocks are the `nn.ModuleList` with `num_hidden_layers` entries, and
inside each block the MLP, the attention module and its output projection are the children with the
conventional names (Llama/Mistral/Qwen/Gemma/Phi: `mlp`, `self_attn.o_proj`; GPT-2: `mlp`, `attn.c_proj`;
GPT-NeoX: `mlp`, `attention.dense`). This module also checks that a vector fits a model.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property

import torch
from torch import nn

from steer_eval.errors import ModelStructureError, VectorMismatchError
from steer_eval.models import same_model
from steer_eval.vectors.format import SiteKey, SteeringVector
from steer_eval.vocab import Site

log = logging.getLogger(__name__)

MLP_NAMES = ("mlp", "feed_forward", "ffn", "block_sparse_moe", "ff")
ATTENTION_NAMES = ("self_attn", "attn", "attention", "self_attention")
OUT_PROJECTION_NAMES = ("o_proj", "c_proj", "dense", "out_proj", "wo")


@dataclass(frozen=True)
class ModelMap:
    """The decoder blocks of one model and the sizes steering vectors must have."""

    model: nn.Module = field(repr=False, compare=False)
    blocks_name: str  # dotted path of the ModuleList, relative to the model
    n_layers: int
    hidden_size: int
    n_heads: int
    architecture: str

    @classmethod
    def of(cls, model: nn.Module) -> ModelMap:
        config = _text_config(model)
        n_layers = getattr(config, "num_hidden_layers", None)
        candidates = [
            (name, module)
            for name, module in model.named_modules()
            if isinstance(module, nn.ModuleList) and len(module) > 0 and (n_layers is None or len(module) == n_layers)
        ]
        with_attention = [(n, m) for n, m in candidates if _child(m[0], ATTENTION_NAMES) is not None]
        chosen = with_attention or candidates
        if not chosen:
            raise ModelStructureError(
                f"cannot find the decoder blocks of {type(model).__name__}: no nn.ModuleList with "
                f"num_hidden_layers={n_layers} entries; steer-eval supports Hugging Face decoder-only causal LMs"
            )
        blocks_name, blocks = max(chosen, key=lambda item: len(item[1]))
        hidden = getattr(config, "hidden_size", None) or model.get_input_embeddings().embedding_dim
        return cls(
            model=model,
            blocks_name=blocks_name,
            n_layers=len(blocks),
            hidden_size=int(hidden),
            n_heads=int(getattr(config, "num_attention_heads", 0) or 0),
            architecture=type(model).__name__,
        )

    @classmethod
    def from_config_only(
        cls, name_or_path: str, revision: str | None = None, trust_remote_code: bool = False
    ) -> ModelMap:
        """Map a model without loading its weights (built on the meta device from its config)."""
        from transformers import AutoConfig, AutoModelForCausalLM

        try:
            config = AutoConfig.from_pretrained(name_or_path, revision=revision, trust_remote_code=trust_remote_code)
        except (OSError, ValueError) as exc:
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelStructureError(
                f"cannot read the model config of {name_or_path!r} ({detail}); give a Hugging Face hub id or a "
                "local model folder"
            ) from None
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(config, trust_remote_code=trust_remote_code)
        return cls.of(model)

    # ---- modules -------------------------------------------------------------------------------

    @cached_property
    def blocks(self) -> nn.ModuleList:
        return self.model.get_submodule(self.blocks_name)

    def module(self, key: SiteKey) -> nn.Module:
        """The module whose output (or, for heads, whose input) the intervention at `key` edits."""
        self._check_layer(key)
        block = self.blocks[key.layer]
        if key.site is Site.RESID:
            return block
        if key.site is Site.MLP:
            return self._required_child(block, MLP_NAMES, "MLP", key)
        attention = self._required_child(block, ATTENTION_NAMES, "attention", key)
        if key.site is Site.ATTN:
            return attention
        return self._required_child(attention, OUT_PROJECTION_NAMES, "attention output projection", key)

    def module_name(self, key: SiteKey) -> str:
        target = self.module(key)
        return next(name for name, module in self.model.named_modules() if module is target)

    def hookpoint(self, key: SiteKey) -> str:
        """The module name in lm-eval's `steered` convention (relative to `model.base_model`)."""
        if key.site is Site.HEAD:
            raise VectorMismatchError(
                "per-head vectors have no lm-eval hookpoint: lm-eval edits module outputs, and a head's slice "
                "exists only at the input of the attention output projection"
            )
        target = self.module(key)
        base = getattr(self.model, "base_model", self.model)
        return next(name for name, module in base.named_modules() if module is target)

    def key_for_hookpoint(self, hookpoint: str) -> SiteKey:
        """Map an lm-eval hookpoint name (relative to `model.base_model`) to a site key."""
        base = getattr(self.model, "base_model", self.model)
        try:
            target = base.get_submodule(hookpoint)
        except AttributeError:
            target = None
        if target is not None:
            for layer in range(self.n_layers):
                for site in (Site.RESID, Site.MLP, Site.ATTN):
                    key = SiteKey(site, layer)
                    try:
                        if self.module(key) is target:
                            return key
                    except ModelStructureError:
                        continue
        example = self.hookpoint(SiteKey(Site.RESID, 0))
        raise VectorMismatchError(
            f"hookpoint {hookpoint!r} is not a decoder block, MLP or attention module of {self.architecture}; "
            f"steer-eval hookpoints look like {example!r} (block output), {example}.<mlp>, {example}.<attention>"
        )

    def head_dim(self, layer: int) -> int:
        projection = self.module(SiteKey(Site.HEAD, layer, 0))
        in_features = getattr(projection, "in_features", None)
        if in_features is None:  # transformers' Conv1D (GPT-2) stores weight as [in, out]
            in_features = projection.weight.shape[0]
        if not self.n_heads or in_features % self.n_heads:
            raise ModelStructureError(
                f"cannot split the attention output projection of {self.architecture} ({in_features} inputs) "
                f"into {self.n_heads} heads"
            )
        return in_features // self.n_heads

    def expected_size(self, key: SiteKey) -> int:
        self.module(key)  # the layer and site must exist
        return self.head_dim(key.layer) if key.site is Site.HEAD else self.hidden_size

    # ---- validation ----------------------------------------------------------------------------

    def check_fits(self, vector: SteeringVector, where: str) -> None:
        """Raise `VectorMismatchError` naming exactly what in `vector` does not fit this model."""
        built_for = f" (it was built for {vector.meta.model_name})" if vector.meta.model_name else ""
        for key, tensor in vector.directions.items():
            self.check_key(key, tensor.numel(), where, hint=built_for)
        model_name = getattr(getattr(self.model, "config", None), "_name_or_path", None)
        if vector.meta.model_name and model_name and not same_model(vector.meta.model_name, model_name):
            log.warning("%s was built for %s but is applied to %s", where, vector.meta.model_name, model_name)

    def check_key(self, key: SiteKey, size: int, where: str, hint: str = "") -> None:
        """Raise if `key` is not a site of this model or a vector of `size` does not fit it."""
        try:
            self.module(key)  # layer range and site presence
        except (ModelStructureError, VectorMismatchError) as exc:
            raise type(exc)(f"{where}: {exc}") from None
        if key.site is Site.HEAD and not 0 <= key.head < self.n_heads:
            raise VectorMismatchError(
                f"{where}: {key} targets head {key.head} but {self.architecture} has {self.n_heads} heads "
                f"(0..{self.n_heads - 1})"
            )
        expected = self.expected_size(key)
        if size != expected:
            what = "head size" if key.site is Site.HEAD else "hidden size"
            raise VectorMismatchError(
                f"{where}: {key} has size {size} but the model's {what} is {expected}{hint}; "
                "use a vector built for this model"
            )

    def _check_layer(self, key: SiteKey) -> None:
        if not 0 <= key.layer < self.n_layers:
            raise VectorMismatchError(
                f"{key} targets layer {key.layer} but {self.architecture} has {self.n_layers} layers "
                f"(0..{self.n_layers - 1})"
            )

    def _required_child(self, parent: nn.Module, names: tuple[str, ...], what: str, key: SiteKey) -> nn.Module:
        child = _child(parent, names)
        if child is None:
            children = ", ".join(name for name, _ in parent.named_children())
            raise ModelStructureError(
                f"cannot find the {what} module for {key} in {type(parent).__name__} (children: {children}); "
                f"site {key.site.value!r} is not available for {self.architecture}"
            )
        return child


def _child(parent: nn.Module, names: tuple[str, ...]) -> nn.Module | None:
    children = dict(parent.named_children())
    return next((children[name] for name in names if name in children), None)


def _text_config(model: nn.Module):
    config = getattr(model, "config", None)
    if config is None:
        raise ModelStructureError(f"{type(model).__name__} has no Hugging Face config; pass a transformers model")
    return config.get_text_config() if hasattr(config, "get_text_config") else config
