"""A tiny LoRA adapter trained here on the demo world (peft from the registry), for the tests of adapters
as models: supervised fine-tuning on `demo_sentiment`'s train split towards its desired (positive) reply,
the rival that steering is compared with. A few dozen steps on CPU (seconds)."""

from __future__ import annotations

from pathlib import Path


def train_mood_lora(demo_dir: Path, output: Path, steps: int = 60, rank: int = 8, seed: int = 0) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from steer_eval.tasks import load_split

    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(demo_dir)
    model = AutoModelForCausalLM.from_pretrained(demo_dir)
    config = LoraConfig(r=rank, lora_alpha=2 * rank, target_modules=["q_proj", "v_proj", "o_proj"], lora_dropout=0.0)
    model = get_peft_model(model, config)
    items = load_split("demo_sentiment", "train")
    texts = [(item.prompt, item.continuations[item.target]) for item in items]
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-3)
    model.train()
    for step in range(steps):
        batch = [texts[(step * 16 + i) % len(texts)] for i in range(16)]
        losses = []
        for prompt, answer in batch:  # the loss on the answer only
            context = tokenizer(prompt, add_special_tokens=False)["input_ids"]
            target = tokenizer(answer, add_special_tokens=False)["input_ids"]
            ids = torch.tensor([context + target])
            labels = torch.tensor([[-100] * len(context) + target])
            losses.append(model(input_ids=ids, labels=labels).loss)
        loss = torch.stack(losses).mean()
        loss.backward()
        optimiser.step()
        optimiser.zero_grad()
    model.eval()
    model.save_pretrained(output)
    return output
