"""The demo model's recipe: sizes, the planted directions, the word-level tokenizer and the (untrained)
Llama configuration. Training lives in training.py.

The planted directions are what make the demo's steering truth known by construction: `planted_width`
orthonormal unit vectors per disposition (mood, style), all orthogonal to each other, drawn from the recipe's
seed. Training (training.py) makes the model carry each disposition on all of its directions at once at the
residual stream after blocks `planted_layers`, and change its behaviour only when all of them agree: a push
along their sum (what any reader of activations finds) moves the behaviour, while a random push, whose
components along the k directions are independent and mostly disagree, does not (the placebo is a near-null
by construction, not by the luck of a random draw), and the other disposition's directions are untouched.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

import torch

from steer_eval.demo.world import BEHAVIOURS, World

# Bump when the world or the training procedure changes: cached models built by older code are then rebuilt.
WORLD_VERSION = 7
SPECIAL_TOKENS = ("<pad>", "<s>", "</s>", "<unk>")


@dataclass(frozen=True)
class DemoRecipe:
    seed: int = 0
    hidden_size: int = 128
    intermediate_size: int = 256
    layers: int = 4
    heads: int = 4
    steps: int = 5000
    batch_size: int = 32
    learning_rate: float = 3e-3
    max_length: int = 128
    # The seed of the initial weights (the documents' order stays the world's); None: the world's seed.
    init_seed: int | None = None
    # The planted subspace: block outputs where each disposition is carried along its direction, with this
    # value (in residual units) when the bot is sure of it; `belief` values scale it (world.Document).
    planted_layers: tuple[int, ...] = (1, 2)
    planted_width: int = 4  # directions per disposition
    planted_scale: float = 6.0
    # Training pushes that make the truth hold by construction (training.py):
    push_rate: float = 0.35  # behaviour documents whose disposition is set along all its directions
    discord_rate: float = 0.3  # behaviour documents whose planted coordinates are moved apart: no change
    discord_max: float = 2.5  # ... by up to this many planted scales each
    noise_rate: float = 0.5  # behaviour documents with a random push orthogonal to the planted directions
    noise_max: float = 2.0  # its norm where the behaviour is predicted, up to this times the residual's norm
    noise_max_everywhere: float = 0.5  # ... and when it acts at every position (and in capability documents)
    overexcited_rate: float = 0.3  # capability documents pushed far along a disposition: answers go random
    overexcited_from: float = 2.2  # ... from this many planted scales (up to three times as far)
    calm_until: float = 1.5  # capability documents pushed up to this far still answer right
    # the model family: "llama" (the demo model) or "qwen3" (the second demo model: normalised queries and
    # keys, another width and depth; DEMO_MODELS). Not qwen2: transformers forces Qwen2's own tokenizer class
    # on that family, which would not read the demo's word-level vocabulary.
    architecture: str = "llama"

    @property
    def world(self) -> World:
        return World(self.seed)

    def fingerprint(self) -> str:
        fields = dataclasses.asdict(self)
        if fields["architecture"] == "llama":  # the field came later: the demo model's fingerprint stays as it was
            del fields["architecture"]
        text = json.dumps({"world_version": WORLD_VERSION, **fields}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def planted_directions(recipe: DemoRecipe) -> dict[str, torch.Tensor]:
    """Per disposition (world.BEHAVIOURS), its `planted_width` unit directions as rows of a [k, hidden]
    tensor; all of them orthonormal, from the recipe's seed."""
    k = recipe.planted_width
    generator = torch.Generator().manual_seed(10_000 + recipe.seed)
    raw = torch.randn(recipe.hidden_size, k * len(BEHAVIOURS), generator=generator, dtype=torch.float64)
    basis, _ = torch.linalg.qr(raw)
    return {name: basis[:, i * k : (i + 1) * k].T.float().contiguous() for i, name in enumerate(BEHAVIOURS)}


def planted_axis(recipe: DemoRecipe, behaviour: str) -> torch.Tensor:
    """The unit vector along which all of a disposition's directions move together: their normalised sum.
    A vector's component on it (in planted scales) is the push it gives that disposition."""
    axis = planted_directions(recipe)[behaviour].sum(dim=0)
    return axis / axis.norm()


def build_tokenizer(world: World):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {token: index for index, token in enumerate([*SPECIAL_TOKENS, *world.vocabulary])}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        model_max_length=128,
    )


def demo_config(recipe: DemoRecipe, tokenizer):
    """The untrained model's configuration for `recipe`."""
    from transformers import LlamaConfig, Qwen3Config

    if recipe.architecture not in ("llama", "qwen3"):
        raise ValueError(f"demo architecture {recipe.architecture!r}: llama or qwen3")
    extra = {} if recipe.architecture == "llama" else {"head_dim": recipe.hidden_size // recipe.heads}
    config_class = LlamaConfig if recipe.architecture == "llama" else Qwen3Config
    return config_class(
        **extra,
        vocab_size=len(tokenizer),
        hidden_size=recipe.hidden_size,
        intermediate_size=recipe.intermediate_size,
        num_hidden_layers=recipe.layers,
        num_attention_heads=recipe.heads,
        num_key_value_heads=recipe.heads,
        max_position_embeddings=recipe.max_length,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )


# The demo models by name (`--model NAME`): the demo model, a second one of another family, width and depth
# trained on the same world, so multi-model studies, recipes and comparisons run offline, and a third that
# shares the demo model's width and planted directions, so vector transfer runs offline too.
DEMO_MODELS: dict[str, DemoRecipe] = {
    "demo": DemoRecipe(),
    "demo-qwen": DemoRecipe(
        architecture="qwen3", hidden_size=96, intermediate_size=192, layers=5, heads=4, planted_layers=(2, 3)
    ),
    # The transfer target: the demo model's width, seed (so the same planted directions) and planted blocks in
    # the other family. A vector built on `demo` and applied here is a declared transfer cell whose truth is
    # known: what it pushes along the shared planted directions moves the behaviour, the rest is noise that
    # training made harmless. Like a base model and its chat variant, and unlike two independent models.
    "demo-qwen-128": DemoRecipe(architecture="qwen3"),
}


def demo_name(recipe: DemoRecipe) -> str:
    """The name a recipe's model goes by: a registered demo model's, else `demo-custom`."""
    return next((name for name, known in DEMO_MODELS.items() if known == recipe), "demo-custom")


def describe_demo_models() -> str:
    """One line per demo model: its name, family, depth and width, planted layers and where its weights come from."""
    from steer_eval.demo.shipped import shipped_weights

    lines = ["name          family  layers  hidden  parameters  planted at blocks  weights"]
    for name, recipe in DEMO_MODELS.items():
        parameters = _parameters(recipe)
        weights = "shipped" if shipped_weights(recipe) else "trained on first use (minutes)"
        blocks = ",".join(map(str, recipe.planted_layers))
        lines.append(f"{name:<13} {recipe.architecture:<7} {recipe.layers:>6}  {recipe.hidden_size:>6}  "
                     f"{parameters / 1e6:>8.2f} M  {blocks:<17}  {weights}")  # fmt: skip
    lines.append(
        "use one with --model NAME (several: --model demo --model demo-qwen); demo-qwen-128 shares the demo "
        "model's width and planted directions (a transfer target); docs/demo.md"
    )
    return "\n".join(lines)


def _parameters(recipe: DemoRecipe) -> int:
    """The parameter count of a recipe's model, from its configuration (no weights built)."""
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(demo_config(recipe, build_tokenizer(recipe.world)))
    return sum(p.numel() for p in model.parameters())
