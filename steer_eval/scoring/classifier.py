"""A Hugging Face sequence classifier as a scorer: `classifier:MODEL:LABEL` scores each text with the
probability the classifier gives LABEL (any `AutoModelForSequenceClassification`, a hub id or a local folder;
LABEL is one of its `id2label` names, or an index). Texts are scored in batches; an empty text (nothing
written) is missing, not scored."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from steer_eval.scoring.registry import Scorer, ScorerError, register_factory

BATCH = 32


@dataclass(frozen=True)
class ClassifierScorer(Scorer):
    model: str = ""
    label: str = ""
    _loaded: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def check(self) -> None:
        self._load()

    def _load(self) -> tuple[Any, Any, int]:
        if not self._loaded:
            from transformers import AutoModelForSequenceClassification, AutoTokenizer

            try:
                tokenizer = AutoTokenizer.from_pretrained(self.model)
                model = AutoModelForSequenceClassification.from_pretrained(self.model).eval()
            except (OSError, ValueError) as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise ScorerError(
                    f"scorer {self.name}: could not load the classifier {self.model!r} ({first}); give a local "
                    "folder or hub id of an AutoModelForSequenceClassification"
                ) from None
            labels = {str(v).lower(): int(k) for k, v in (model.config.id2label or {}).items()}
            if self.label.lower() in labels:
                index = labels[self.label.lower()]
            elif self.label.isdigit() and int(self.label) < model.config.num_labels:
                index = int(self.label)
            else:
                raise ScorerError(
                    f"scorer {self.name}: the classifier has no label {self.label!r}; its labels are "
                    f"{', '.join(str(v) for v in model.config.id2label.values())}"
                )
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
            self._loaded.update(tokenizer=tokenizer, model=model, index=index)
        return self._loaded["tokenizer"], self._loaded["model"], self._loaded["index"]

    def score_all(self, texts, references, prompts=None) -> list[float | None]:
        import torch

        tokenizer, model, index = self._load()
        out: list[float | None] = [None] * len(texts)
        todo = [i for i, text in enumerate(texts) if text.strip()]
        for start in range(0, len(todo), BATCH):
            batch = todo[start : start + BATCH]
            encoded = tokenizer([texts[i] for i in batch], return_tensors="pt", padding=True, truncation=True)
            with torch.no_grad():
                probabilities = model(**encoded).logits.float().softmax(dim=-1)[:, index]
            for i, p in zip(batch, probabilities.tolist(), strict=True):
                out[i] = float(p)
        return out

    def describe(self) -> dict:
        return {**super().describe(), "model": self.model, "label": self.label}


def classifier_scorer(name: str, arguments: str) -> ClassifierScorer:
    model, sep, label = arguments.rpartition(":")
    if not sep or not model or not label:
        raise ScorerError(
            f"scorer {name!r}: write a classifier as classifier:MODEL:LABEL, e.g. classifier:my-sst2:positive"
        )
    return ClassifierScorer(name, f"the probability the classifier {model} gives {label!r}", model=model, label=label)


register_factory("classifier", classifier_scorer)
