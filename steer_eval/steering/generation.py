"""Steered generation for `SteerEvalLM` (a mixin over lm-eval's HFLM): lm-eval's generation with the prompt
layout the position modes need, generation sweeps, and the unsteered log-likelihood of generated text.

A generation sweep answers every announced setting of a task's cells (strengths, vectors, the baseline) in
the same batches: each prompt of a batch is repeated once per setting, and each setting's interventions act
only on its own rows, so one `generate` call with the KV cache decodes them all instead of one call per
strength. Below the lowest block any setting steers, every setting's prompt cache is the same: it is
computed once per prompt and shared by every setting's rows (all of it when no setting steers the prompt
before its last token; prompt_cache.py), so only the upper blocks, the last prompt token and the decode
steps are computed per setting. Later cells are served from the sweep. Sorting, padding, stop sequences
and post-processing follow lm-eval's `generate_until`, so a sweep's texts are the ones a cell on its own
gets (tests compare them). Decoding is greedy unless the task asks for sampling. A greedy request is
generated once however often it is asked; a sampled one (lm-eval's `repeats`) once per ask, every
setting's rows drawing from one generator seeded per batch from the run's seed (`plan_sweep`), so settings do not share
random draws with their own separate runs. Each batch's texts are kept in the group's checkpoint as they
are decoded (text_checkpoint.py): a resumed sweep decodes only what it lacks."""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import torch
from lm_eval.models.utils import handle_stop_sequences, normalize_gen_kwargs, postprocess_generated_text
from tqdm import tqdm
from transformers import StoppingCriteriaList

from steer_eval.steering.checkpoint import rank_path
from steer_eval.steering.interventions import Intervention
from steer_eval.steering.positions import SequenceLayout
from steer_eval.steering.prompt_cache import PromptCache, shared_blocks
from steer_eval.steering.stopping import StopSequences
from steer_eval.steering.sweep import TextKey
from steer_eval.steering.text_checkpoint import TextProgress, texts_path
from steer_eval.vocab import Action

SETTINGS_PER_PASS = 8  # settings decoded together: a batch holds batch_size x this many rows at most


def _samples(args: tuple) -> bool:
    """Whether a request samples (every ask of it is a new draw) rather than decoding greedily."""
    kwargs = args[1] if len(args) > 1 and isinstance(args[1], dict) else {}
    return bool(kwargs.get("do_sample")) or float(kwargs.get("temperature", 0.0) or 0.0) > 0


def _unit_seed(seed: int, requests: str, unit: str, first: int) -> int:
    """The seed of one unit's draws: fixed by the run's seed, the sweep's requests and the unit."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{requests}:{unit}:{first}".encode()).digest()[:8], "big") >> 1


def text_key(args: tuple) -> TextKey:
    context, gen_kwargs = args[0], args[1] if len(args) > 1 else {}
    return context, json.dumps(gen_kwargs, sort_keys=True, default=str)


class SteeredGeneration:
    """Generation methods of `SteerEvalLM`; expects its `steerer`, `_sweep`, `_setting` and HFLM's API."""

    generation_sweep = True  # False: each cell generates on its own (the bench's comparison, a fallback)
    share_prompt_cache = True  # False: each setting's rows encode their prompt themselves (tests compare)

    def generate_until(self, requests, disable_tqdm: bool = False):
        disable = disable_tqdm or self.quiet
        if self._sweep is None or self._setting is None or not self.generation_sweep:
            return super().generate_until(requests, disable_tqdm=disable)
        keys = [text_key(request.args) for request in requests]
        served = self._sweep.serve_texts(self._setting, keys)
        if served is None:
            self._generate_sweep([request.args for request in requests], disable)
            served = self._sweep.serve_texts(self._setting, keys)
        return served

    def _model_generate(self, context: torch.Tensor, max_length: int, stop: list[str], **generation_kwargs):
        """lm-eval's `_model_generate` (its greedy / sampling rule, pad token, autocast) with the steering layout
        of the batch and stop sequences checked per row (stopping.py): a finished row stops decoding instead
        of running on until every row of the batch has met the same stop sequence."""
        mask = generation_kwargs.get("attention_mask")
        if mask is None:
            mask = torch.ones_like(context)
        kwargs = dict(generation_kwargs)
        kwargs["temperature"] = kwargs.get("temperature", 0.0)
        if kwargs["temperature"] == 0.0 and kwargs.get("do_sample") is None:
            kwargs["do_sample"] = False
        if kwargs.get("do_sample") is False and kwargs["temperature"] == 0.0:
            kwargs.pop("temperature")
        stopping = StoppingCriteriaList([StopSequences(self.tokenizer, stop, context.shape[1], context.shape[0])])
        precision = self.mixed_precision_dtype
        with (
            self.steerer.active(SequenceLayout.for_generation(mask)),
            torch.autocast(device_type=self.device.type, dtype=precision, enabled=precision is not None),
        ):
            return self.model.generate(
                input_ids=context, max_length=max_length, stopping_criteria=stopping,
                pad_token_id=self.tokenizer.pad_token_id, use_cache=True, **kwargs,
            )  # fmt: skip

    # ---- sweeps ----------------------------------------------------------------------------------

    def _generation_batch_size(self) -> int:
        size = self.batch_size
        return int(self._detect_batch_size() if str(size).startswith("auto") else size)

    def _generate_sweep(self, args: Sequence[tuple], disable: bool) -> None:
        """Generate `args` (lm-eval's (context, gen_kwargs) pairs) under every pending setting; store the texts.
        Each batch of prompts under each pass of settings is one unit of work, kept in the sweep's checkpoint
        (text_checkpoint.py) so a resumed sweep decodes only the units it lacks."""
        settings = self._sweep.pending()
        # one generation per distinct greedy request; a sampled request asked k times (lm-eval's `repeats`) k
        keyed = [(text_key(a), a) for a in args]
        unique = dict(keyed)
        todo = [(key, arg) for key, arg in unique.items() if not _samples(arg)]
        todo += [(key, arg) for key, arg in keyed if _samples(arg)]
        by_kwargs: dict[str, list[tuple[TextKey, tuple]]] = {}
        for key, arg in todo:
            by_kwargs.setdefault(key[1], []).append((key, arg))
        self._prompt_lengths = {context: len(self.tok_encode(context)) for context, _ in unique}
        for group in by_kwargs.values():
            group.sort(key=lambda pair: (-self._prompt_lengths[pair[0][0]], pair[0][0]))  # lm-eval's order
        groups = list(by_kwargs.values())
        batch = self._generation_batch_size()
        per_pass = max(1, SETTINGS_PER_PASS)
        keys = [key for group in groups for key, _ in group]
        kept = TextProgress(self._texts_checkpoint(), keys, [key for key, _ in settings], unit_rows=batch)
        unit_rows = kept.unit_rows  # a resumed sweep keeps its checkpoint's units, whatever its batch size now
        units = [(g, start) for g, group in enumerate(groups) for start in range(0, len(group), unit_rows)]
        self.resumed = (kept.restored, len(units)) if kept.restored else None
        seed = self._sweep.seed if self._sweep.seed is not None else torch.initial_seed()
        show = (not disable or self.item_progress) and self.rank == 0
        progress = tqdm(
            total=len(todo) * len(settings),
            disable=not show,
            desc=f"Generations x {len(settings)} settings",
            leave=not self.item_progress,
        )
        current = self.steerer.interventions
        try:
            for g, start in units:
                pairs, unit = groups[g][start : start + unit_rows], f"{g}:{start}"
                chunk = [arg for _, arg in pairs]
                for first in range(0, len(settings), per_pass):
                    part = settings[first : first + per_pass]
                    texts = kept.get(unit, [key for key, _ in part], len(chunk))
                    if texts is None:
                        with self._unit_generator(chunk, seed, kept.requests, unit, first):
                            texts = self._decode_unit(chunk, [ivs for _, ivs in part], batch)
                        kept.add(unit, {key: t for (key, _), t in zip(part, texts, strict=True)})
                    for (setting, _), rows in zip(part, texts, strict=True):
                        self._sweep.store_texts(setting, [(k, t) for (k, _), t in zip(pairs, rows, strict=True)])
                    progress.update(len(chunk) * len(part))
        except BaseException:  # stopped (Ctrl-C, SIGTERM): keep what was decoded, then stop
            kept.flush()
            raise
        else:
            kept.flush()  # the whole sweep: its cells are written one by one from here
        finally:
            self.steerer.set_interventions(current)
            progress.close()

    def _decode_unit(self, chunk: list[tuple], settings: list[list], batch: int) -> list[list[str]]:
        """Each setting's texts for one unit's prompts, decoded `batch` prompts at a time (one batch, unless a
        resumed sweep's batch size is smaller than its checkpoint's units)."""
        texts: list[list[str]] = [[] for _ in settings]
        for start in range(0, len(chunk), batch):
            part = chunk[start : start + batch]
            rows = self._generate_rows(part, settings)
            for s in range(len(settings)):
                texts[s] += rows[s * len(part) : (s + 1) * len(part)]
        return texts

    @contextmanager
    def _unit_generator(self, chunk: list[tuple], seed: int, requests: str, unit: str, first: int) -> Iterator[None]:
        """Sampled decoding of one unit draws from a generator seeded by the run's seed, the sweep's requests
        and the unit, so a resumed sweep draws what the uninterrupted one drew; the global generator is left as
        it was. Greedy decoding draws nothing."""
        if not any(_samples(arg) for arg in chunk):
            yield
            return
        devices = [self.device] if torch.device(self.device).type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(_unit_seed(seed, requests, unit, first))
            yield

    def _texts_checkpoint(self) -> Path | None:
        path = rank_path(self._sweep.checkpoint, self.rank, self.world_size)  # each rank decodes its share
        return None if path is None else texts_path(path)

    def _generate_rows(self, chunk: list[tuple], settings: list[list]) -> list[str]:
        """One generate call: the chunk's prompts once per setting, prompt i under setting s on row
        i * len(settings) + s (the layout of a cache repeated per prompt); the texts come back setting-major."""
        contexts = [arg[0] for arg in chunk]
        kwargs = normalize_gen_kwargs(dict(chunk[0][1]), self.max_gen_toks)
        eos = self.tok_decode(self.eot_token_id, skip_special_tokens=False)
        until = handle_stop_sequences(kwargs.pop("until", None), eos=eos)
        max_gen_toks = kwargs.pop("max_gen_toks")
        room = self.max_length - max_gen_toks
        lengths = getattr(self, "_prompt_lengths", {})
        cut = {c for c in contexts if (lengths[c] if c in lengths else len(self.tok_encode(c))) > room}
        if cut:  # lm-eval cuts them from the left, silently; the runner says so (execute.py)
            self.truncated = (getattr(self, "truncated", None) or (set(), room))[0] | cut, room
        encoded, mask = self.tok_batch_encode(contexts, left_truncate_len=room, truncation=self.truncation)
        n, copies = len(contexts), len(settings)
        # a row whose prompt is one token would have an all-padding prefix (no cache to share, and attention
        # over nothing); such batches, like models without a repeatable cache, encode per row
        interventions = _row_interventions(settings, n)
        shared = self._shared_blocks(settings) if copies > 1 and int(mask.sum(dim=1).min()) > 1 else 0
        if shared > 0:
            cache = self._shared_prompt_cache(encoded, mask, copies, shared, interventions)
            if cache is not None:
                kwargs[self._cache_argument()] = cache
        self.steerer.set_interventions(interventions)
        context = encoded.repeat_interleave(copies, dim=0).to(self.device)
        max_length = kwargs.pop("max_length", context.shape[1] + max_gen_toks)
        out = self._model_generate(
            context=context, attention_mask=mask.repeat_interleave(copies, dim=0).to(self.device), stop=until,
            max_length=max_length, **kwargs,
        )  # fmt: skip
        order = [i * copies + s for s in range(copies) for i in range(n)]
        out = out[order]
        texts = []
        for row in out.tolist():
            tokens = row[context.shape[1] :]
            think = self.think_end_token
            if isinstance(think, int) and think in tokens:
                tokens = tokens[len(tokens) - tokens[::-1].index(think) :]
            text = self.tok_decode(tokens)
            if isinstance(think, int):
                text = text.lstrip()
            texts.append(
                postprocess_generated_text(
                    generation=text, stop=until, think_end_token=think if isinstance(think, str) else None
                )
            )
        return texts

    # ---- one prompt cache for all settings ---------------------------------------------------------

    def _shared_blocks(self, settings: list[list[Intervention]]) -> int:
        """How many blocks, from the bottom, compute every setting's prompt cache alike (0: none shared)."""
        if not self.share_prompt_cache or getattr(self, "backend", "causal") != "causal":
            return 0
        return shared_blocks(settings, self.steerer.model_map.n_layers)

    def _cache_argument(self) -> str:
        """The name `generate` takes a KV cache under (transformers 5: `cache`; 4.x: `past_key_values`)."""
        return "cache" if "cache" in inspect.signature(self.model.forward).parameters else "past_key_values"

    def _shared_prompt_cache(
        self, encoded: torch.Tensor, mask: torch.Tensor, copies: int, start: int, interventions: list[Intervention]
    ):
        """The KV cache of every prompt but its last token for all `copies` settings' rows (prompt_cache.py);
        `generate` then computes only the last prompt token and the decode steps per row."""
        if getattr(self, "_prompt_cache", None) is None:
            self._prompt_cache = PromptCache(self.model, self.steerer, self._inference)
        return self._prompt_cache.build(encoded.to(self.device), mask.to(self.device), copies, start, interventions)

    # ---- the unsteered likelihood of a text ------------------------------------------------------

    @contextmanager
    def unsteered(self) -> Iterator[None]:
        """No interventions and no sweep serving inside the block; both come back afterwards."""
        interventions, setting = self.steerer.interventions, self._setting
        self.steerer.set_interventions([])
        self._setting = None
        try:
            yield
        finally:
            self.steerer.set_interventions(interventions)
            self._setting = setting

    def continuation_nll(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """Mean negative log-likelihood per token of each (context, text)'s text under the unsteered model:
        the fluency cost of what a steered model wrote, measured by the model it was steered from."""
        requests = [((context, text), *self._encode_pair(context, text)) for context, text in pairs]
        with self.unsteered():
            scores = self._loglikelihood_tokens(requests, disable_tqdm=True)
        return [-loglik / max(len(request[2]), 1) for (loglik, _), request in zip(scores, requests, strict=True)]


def _row_interventions(settings: list[list[Intervention]], n: int) -> list[Intervention]:
    """The interventions of `settings` for n prompts, setting s acting on rows s, s + len(settings), ... (prompt
    i's copies are adjacent, as a cache repeated per prompt lays them out). When every intervention
    adds, additions of the same direction at the same site and positions (one vector at several strengths)
    become one addition with a strength per row (the order of additions does not matter); otherwise each acts,
    in its order, on its own rows only."""
    rows_total = n * len(settings)
    if all(i.action is Action.ADD and i.rows is None for interventions in settings for i in interventions):
        merged: dict[tuple, tuple[Intervention, torch.Tensor]] = {}
        for s, interventions in enumerate(settings):
            for intervention in interventions:
                direction = intervention.direction
                slot = (intervention.key, intervention.positions, direction.data_ptr(), tuple(direction.shape))
                if slot not in merged:
                    merged[slot] = (intervention, torch.zeros(rows_total))
                merged[slot][1][s :: len(settings)] += intervention.alpha
        return [first.with_row_alphas(alphas) for first, alphas in merged.values()]
    tagged = []
    for s, interventions in enumerate(settings):
        rows = torch.zeros(rows_total, dtype=torch.bool)
        rows[s :: len(settings)] = True
        tagged += [intervention.on_rows(rows) for intervention in interventions]
    return tagged
