"""`SteerEvalLM`: lm-eval's Hugging Face model with steering, registered as `steer-eval`, so both our
runner and the plain `lm_eval --model steer-eval --model_args pretrained=...,vectors=...` use it.

The model is loaded once; interventions and strengths are swapped in place (`set_interventions`,
`set_alpha`, `steering()`), so a sweep is one model load. Log-likelihood scoring is our own batch loop
(same sorting, batching and padding as lm-eval's) because steering positions must know where each
request's prompt ends; generation (steering/generation.py) wraps lm-eval's with the prompt layout.

Sweeps (`plan_sweep` / `use_setting`): settings announced together are scored together, one unsteered
pass per batch and a replay of the blocks from each setting's first steered block (prefix.py, sweep.py).
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.nn.functional as F
from lm_eval.api.registry import register_model
from lm_eval.models.huggingface import HFLM
from lm_eval.models.utils import Collator
from tqdm import tqdm

from steer_eval.errors import SteerEvalError
from steer_eval.steering.batching import cpu_batch_size, probe_batch_size
from steer_eval.steering.checkpoint import SweepProgress, rank_path, segment_size, segments_of
from steer_eval.steering.generation import SteeredGeneration
from steer_eval.steering.hooks import Steerer
from steer_eval.steering.interventions import Intervention
from steer_eval.steering.loading import load_interventions
from steer_eval.steering.positions import SequenceLayout
from steer_eval.steering.prefix import PrefixReplay
from steer_eval.steering.sweep import Sweep, request_key
from steer_eval.strengths import finite_strength
from steer_eval.vocab import PositionMode

log = logging.getLogger(__name__)

Request = tuple[tuple[str, str] | None, list[int], list[int]]


@register_model("steer-eval")
class SteerEvalLM(SteeredGeneration, HFLM):
    """HFLM plus interventions. Extra model_args: `vectors` (paths separated by ';'), `alpha` (overrides
    every vector's default strength), `positions` (overrides every vector's position mode), `layer`
    (which layer of a per-layer vector acts; default: the file's chosen layer), and
    `padding_side` ('right' as lm-eval, or 'left') for log-likelihood batches."""

    def __init__(
        self,
        pretrained: object,
        vectors: str | Sequence[str] | None = None,
        alpha: float | None = None,
        positions: str | None = None,
        layer: int | None = None,
        padding_side: str = "right",
        **kwargs: object,
    ) -> None:
        if padding_side not in ("left", "right"):
            raise SteerEvalError(f"padding_side must be 'left' or 'right', not {padding_side!r}")
        super().__init__(pretrained=pretrained, **kwargs)
        self._cpu_data_parallel()
        if self.backend != "causal":
            raise SteerEvalError("steer-eval steers decoder-only (causal) models; this model is encoder-decoder")
        self.padding_side = padding_side
        self.steerer = Steerer(self.model)
        self.quiet = False  # True: no per-call progress bars (the runner shows one bar over its cells)
        self.item_progress = False  # with quiet: still show a transient bar over a call's items
        self.prefix_reuse = True  # False: every setting of a sweep gets its own full forward passes
        self._sweep: Sweep | None = None
        self._setting: Hashable | None = None
        self._prefix: PrefixReplay | None = None
        self._rolling = False
        self._auto_sizes: dict[tuple[int, int], int] = {}
        self._prefix_checked = False
        self.resumed: tuple[int, int] | None = None  # (segments read back, segments) of the last sweep resumed
        self.truncated: tuple[set[str], int] | None = None  # (prompts cut, tokens left for one) in generation
        self.set_interventions(
            load_interventions(vectors, self.steerer.model_map, alpha, positions, None if layer is None else int(layer))
        )

    def _cpu_data_parallel(self) -> None:
        """Under `accelerate launch --num_processes N --cpu`, split the items over the N processes as lm-eval
        does over GPUs. lm-eval sets up data parallelism only when it counts more than one GPU, so on CPU every
        process would run every item and write every cell: the same run N times over."""
        accelerator = getattr(self, "accelerator", None)
        if accelerator is None or accelerator.num_processes < 2 or self._world_size > 1:
            return
        if accelerator.device.type != "cpu":
            return  # GPUs: lm-eval's own setup (one process per device)
        self._rank = accelerator.process_index
        self._world_size = accelerator.num_processes

    # ---- steering controls -----------------------------------------------------------------------

    @property
    def interventions(self) -> list[Intervention]:
        return self.steerer.interventions

    def set_interventions(self, interventions: Sequence[Intervention]) -> None:
        self.steerer.set_interventions(interventions)

    def set_alpha(self, alpha: float) -> None:
        self.steerer.set_alpha(finite_strength(alpha, "alpha"))

    @contextmanager
    def steering(self, interventions: Sequence[Intervention]) -> Iterator[SteerEvalLM]:
        """Temporarily use `interventions`; the previous ones come back afterwards."""
        previous = self.steerer.interventions
        self.set_interventions(interventions)
        try:
            yield self
        finally:
            self.steerer.set_interventions(previous)

    # ---- sweeps ----------------------------------------------------------------------------------

    def plan_sweep(
        self, settings: Mapping[Hashable, Sequence[Intervention]], checkpoint: Path | None = None,
        seed: int | None = None,
    ) -> None:  # fmt: skip
        """Announce the settings about to be scored on the same requests (e.g. every cell of one task);
        the first log-likelihood call under any of them scores them all (see sweep.py), keeping its progress
        in `checkpoint` when given (checkpoint.py). Sampled generation draws per batch from `seed` (the run's
        seed; None: from torch's global generator as it stands)."""
        for interventions in settings.values():
            for intervention in interventions:
                self.steerer._check(intervention)
        self._sweep, self._setting = Sweep.of(settings), None
        self._sweep.checkpoint, self._sweep.seed = checkpoint, seed

    def use_setting(self, key: Hashable) -> None:
        """Score the next requests under the announced setting `key`."""
        if self._sweep is None or key not in self._sweep.settings:
            raise KeyError(f"setting {key!r} was not announced with plan_sweep")
        self.set_interventions(self._sweep.settings[key])
        self._setting = key

    def end_sweep(self) -> None:
        self._sweep, self._setting = None, None

    @property
    def prefix(self) -> PrefixReplay:
        if self._prefix is None:
            self._prefix = PrefixReplay(self.model, self.steerer.model_map)
            if not self._prefix.supported:
                log.warning("sweeps use full forward passes for this model: %s", self._prefix.reason)
        return self._prefix

    def set_cache_hook(self, cache_hook: object) -> None:
        if getattr(cache_hook, "dbdict", None) is not None:
            raise SteerEvalError(
                "lm-eval's response cache (--use_cache) keys results by request text only, so it would serve "
                "unsteered answers to steered requests; run without --use_cache (steer-eval's run store resumes "
                "finished cells instead)"
            )
        super().set_cache_hook(cache_hook)

    # ---- scoring ---------------------------------------------------------------------------------

    def loglikelihood(self, requests, disable_tqdm: bool = False):
        return super().loglikelihood(requests, disable_tqdm=disable_tqdm or self.quiet)

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
        # Rolling windows arrive in many small calls that a sweep could not serve from one another.
        self._rolling = True
        try:
            return super().loglikelihood_rolling(requests, disable_tqdm=disable_tqdm or self.quiet)
        finally:
            self._rolling = False

    def _loglikelihood_tokens(
        self, requests: list[Request], disable_tqdm: bool = False, override_bs: int | None = None
    ) -> list[tuple[float, bool]]:
        if self._sweep is not None and self._setting is not None and not self._rolling:
            keys = [request_key(context, continuation) for _, context, continuation in requests]
            served = self._sweep.serve(self._setting, keys)
            if served is None and self.prefix_reuse and self.prefix.supported:
                self._score_sweep(requests, keys, disable_tqdm, override_bs)
                served = self._sweep.serve(self._setting, keys)
            if served is not None:
                return served
        # Requests sharing context+continuation[:-1] share one forward pass (lm-eval's one-token trick), but
        # only when no position mode depends on where the prompt ends.
        share = self.logits_cache and not self.steerer.needs_layout
        ordered = Collator(
            requests,
            sort_fn=lambda req: (-len(req[1] + req[2]), tuple(req[1] + req[2])),
            group_by="contexts" if share else None,
            group_fn=lambda req: req[-2] + req[-1][:-1],
        )
        batch_size = self._batching(requests, override_bs)
        results: list[tuple[float, bool]] = []
        show = not disable_tqdm or self.item_progress
        progress = tqdm(
            total=len(requests), disable=not show or self.rank != 0, desc="Items", leave=not self.item_progress
        )
        for chunk in ordered.get_batched(n=batch_size):
            rows, prompt_lengths = self._rows(chunk)
            for (request, context, continuation), logprobs in zip(
                chunk, self._score_rows(rows, prompt_lengths), strict=True
            ):
                scored = logprobs[-len(continuation) :].unsqueeze(0)  # positions predicting the continuation
                for request_str, tokens, shared in ordered.get_cache(
                    req_str=request, cxt_toks=context, cont_toks=continuation, logits=scored
                ):
                    target = torch.tensor(tokens, dtype=torch.long, device=shared.device).unsqueeze(0)
                    shared = shared[:, -target.shape[1] :]
                    greedy = bool((shared.argmax(dim=-1) == target).all())
                    answer = (float(torch.gather(shared, 2, target.unsqueeze(-1)).sum()), greedy)
                    results.append(answer)
                    if request_str is not None:
                        self.cache_hook.add_partial("loglikelihood", request_str, answer)
                    progress.update(1)
        progress.close()
        return ordered.get_original(results)

    def _rows(self, chunk: list[Request]) -> tuple[list[list[int]], list[int]]:
        """The token rows a batch scores (context + continuation minus the last token, truncated on the
        left to the model's length) and how many of each row's tokens are prompt."""
        rows, prompt_lengths = [], []
        for _, context, continuation in chunk:
            if not context or not continuation:
                raise SteerEvalError("a log-likelihood request has an empty context or continuation")
            row = (context + continuation)[-(self.max_length + 1) :][:-1]
            rows.append(row)
            prompt_lengths.append(len(row) - len(continuation) + 1)
        return rows, prompt_lengths

    def _score_rows(self, rows: list[list[int]], prompt_lengths: list[int]) -> list[torch.Tensor]:
        """Log-probabilities [len(row), vocab] for each row, from one padded forward pass."""
        inputs, layout = self._padded(rows, prompt_lengths)
        with self.steerer.active(layout):
            logits = self._forward_logits(inputs)
        logprobs = F.log_softmax(logits, dim=-1, dtype=self.softmax_dtype)
        return [logprobs[i, int(layout.start[i]) : int(layout.end[i])] for i in range(len(rows))]

    def _padded(
        self, rows: list[list[int]], prompt_lengths: list[int]
    ) -> tuple[dict[str, torch.Tensor], SequenceLayout]:
        """Model inputs for a padded batch of rows, and its layout."""
        width = max(len(row) for row in rows)
        lengths = [len(row) for row in rows]
        layout = SequenceLayout.for_scoring(lengths, prompt_lengths, width, self.padding_side)
        ids = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            start = int(layout.start[i])
            ids[i, start : start + len(row)] = torch.tensor(row, dtype=torch.long)
        inputs: dict[str, torch.Tensor] = {"input_ids": ids.to(self.device)}
        if self.padding_side == "left":
            mask = (torch.arange(width).unsqueeze(0) >= layout.start.unsqueeze(1)).long()
            inputs["attention_mask"] = mask.to(self.device)
            inputs["position_ids"] = (mask.cumsum(dim=1) - 1).clamp(min=0).to(self.device)
        return inputs, layout

    @contextmanager
    def _inference(self) -> Iterator[None]:
        autocast = torch.autocast(
            device_type=self.device.type,
            dtype=self.mixed_precision_dtype,
            enabled=self.mixed_precision_dtype is not None,
        )
        with torch.no_grad(), autocast:
            yield

    def _forward_logits(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        with self._inference():
            return self.model(**inputs).logits

    def _score_sweep(self, requests: list[Request], keys: list, disable_tqdm: bool, override_bs: int | None) -> None:
        """Score `requests` under every pending setting of the sweep and store the results in it, segment by
        segment, resuming from and keeping the sweep's checkpoint (checkpoint.py)."""
        assert self._sweep is not None
        settings = self._sweep.pending()
        starts = {key: Sweep.first_block(ivs) for key, ivs in settings}
        batch_size = self._batching(requests, override_bs, len({s for s in starts.values() if s is not None}))
        path = rank_path(self._sweep.checkpoint, self.rank, self.world_size)  # each rank scores its share
        segments = segments_of(requests, segment_size(path, keys, batch_size))
        progress_file = SweepProgress(path, keys, [key for key, _ in settings], segments)
        self.resumed = (progress_file.restored, len(progress_file.segments)) if progress_file.restored else None
        show = (not disable_tqdm or self.item_progress) and self.rank == 0
        progress = tqdm(
            total=len(requests),
            initial=len(requests) - sum(len(progress_file.segments[i]) for i in progress_file.missing()),
            disable=not show,
            desc=f"Items x {len(settings)} settings",
            leave=not self.item_progress,
        )
        current = self.steerer.interventions
        try:
            for segment in progress_file.missing():
                subset = [requests[i] for i in progress_file.segments[segment]]
                answers = self._score_segment(subset, settings, starts, batch_size, progress)
                if answers is None:  # prefix replay does not reproduce this model's forward pass
                    return
                progress_file.add(segment, answers)
        except BaseException:  # stopped (Ctrl-C, SIGTERM): keep what was scored, then stop
            progress_file.flush()
            raise
        else:  # the whole sweep: its cells are written one by one from here, which takes a while
            progress_file.flush()
        finally:
            self.steerer.set_interventions(current)
            progress.close()
        self._sweep.store(keys, progress_file.results())

    def _score_segment(self, requests: list[Request], settings, starts: dict, batch_size: int, progress):
        """{setting: answers in `requests` order} for one segment: per batch one unsteered pass, captured at
        each setting's first steered block, and a replay from there per setting (prefix.py). None when the
        replay is found not to reproduce the model's forward pass (then sweeps use full passes)."""
        needs_layout = any(i.positions is not PositionMode.ALL for _, ivs in settings for i in ivs)
        ordered = Collator(
            requests,
            sort_fn=lambda req: (-len(req[1] + req[2]), tuple(req[1] + req[2])),
            group_by="contexts" if self.logits_cache and not needs_layout else None,
            group_fn=lambda req: req[-2] + req[-1][:-1],
        )
        scores: dict[Hashable, list[tuple[float, bool]]] = {key: [] for key, _ in settings}
        for chunk in ordered.get_batched(n=batch_size):
            rows, prompt_lengths = self._rows(chunk)
            inputs, layout = self._padded(rows, prompt_lengths)
            hits = []  # (row, continuation tokens) for every request this batch answers
            for row, (request, context, continuation) in enumerate(chunk):
                marker = torch.full((1, 1, 1), float(row))  # which row answers requests sharing this one
                for _, tokens, shared in ordered.get_cache(
                    req_str=request, cxt_toks=context, cont_toks=continuation, logits=marker
                ):
                    hits.append((int(shared.reshape(-1)[0]), tokens))
            self.steerer.set_interventions([])
            with self._inference():
                captured = self.prefix.capture(inputs, [s for s in starts.values() if s is not None])
                if not self._prefix_checked and captured.inputs:
                    first = min(captured.inputs)
                    if not self.prefix.matches_full_pass(captured, first):
                        log.warning(
                            "replaying %s from block %d does not reproduce its forward pass; sweeps use full "
                            "forward passes for this model",
                            self.steerer.model_map.architecture,
                            first,
                        )
                        self.prefix.reason = "replay does not reproduce the forward pass"
                        return None
                    self._prefix_checked = True  # once per model: the structure does not change
                for key, interventions in settings:
                    logits = captured.logits
                    if interventions:
                        self.steerer.set_interventions(interventions)
                        with self.steerer.active(layout):
                            self.steerer.start_pass(0)
                            logits = self.prefix.replay(captured, starts[key])
                    scores[key] += self._answers(logits, layout, hits)
            progress.update(len(hits))
        return {key: ordered.get_original(values) for key, values in scores.items()}

    def _answers(
        self, logits: torch.Tensor, layout: SequenceLayout, hits: list[tuple[int, list[int]]]
    ) -> list[tuple[float, bool]]:
        """(log-likelihood, is-greedy) of each hit's continuation tokens, read from its row's logits."""
        logprobs = F.log_softmax(logits, dim=-1, dtype=self.softmax_dtype)
        answers = []
        for row, tokens in hits:
            end = int(layout.end[row])
            scored = logprobs[row, end - len(tokens) : end]
            target = torch.tensor(tokens, dtype=torch.long, device=scored.device)
            greedy = bool((scored.argmax(dim=-1) == target).all())
            answers.append((float(scored.gather(1, target.unsqueeze(1)).sum()), greedy))
        return answers

    def _batching(self, requests: list[Request], override_bs: int | None, captured_states: int = 0) -> int:
        """A fixed --batch-size, lm-eval's override, or the automatic size for the longest row."""
        if override_bs:
            return int(override_bs)
        if not str(self.batch_size).startswith("auto"):
            return int(self.batch_size)
        if not requests:
            return 1
        longest = max(
            min(len(context) + len(continuation) - 1, self.max_length) for _, context, continuation in requests
        )
        return self._auto_batch_size(longest, captured_states)

    def _detect_batch_size(self, requests=None, pos: int = 0) -> int:
        # lm-eval's generation path asks here when batch_size=auto.
        length = self.max_length
        if requests:
            _, context, continuation = requests[pos]
            length = min(len(context) + len(continuation) - 1, self.max_length)
        return self._auto_batch_size(length, 0)

    def _auto_batch_size(self, length: int, captured_states: int) -> int:
        """The largest batch of rows of `length` tokens that fits (see batching.py); remembered per shape."""
        slot = (length, captured_states)
        if slot not in self._auto_sizes:
            if self.device.type == "cuda":
                size = probe_batch_size(lambda n: self._trial_batch(n, length, captured_states), self.max_batch_size)
            else:
                config = self.model.config.get_text_config()
                size = cpu_batch_size(length, config, self.model.dtype.itemsize, captured_states, self.max_batch_size)
            log.info("batch size %d for rows of %d tokens", size, length)
            self._auto_sizes[slot] = size
        return self._auto_sizes[slot]

    def _trial_batch(self, size: int, length: int, captured_states: int) -> None:
        """The peak-memory shape of one batch: a forward pass (a sweep's capture and replay) and log-softmax."""
        inputs = {"input_ids": torch.ones((size, length), dtype=torch.long, device=self.device)}
        with self._inference():
            if captured_states and self.prefix.supported:
                starts = [max(self.steerer.model_map.n_layers - 1 - i, 0) for i in range(captured_states)]
                captured = self.prefix.capture(inputs, starts)
                logits = self.prefix.replay(captured, min(starts))
                del captured
            else:
                logits = self._forward_logits(inputs)
            F.log_softmax(logits, dim=-1, dtype=self.softmax_dtype)

    def _model_call(
        self, inps: torch.Tensor, attn_mask: torch.Tensor | None = None, labels: torch.Tensor | None = None
    ):
        # Only lm-eval's batch-size probe comes here; steer it too so its memory estimate is honest.
        layout = SequenceLayout.for_scoring(
            [inps.shape[1]] * inps.shape[0], [inps.shape[1]] * inps.shape[0], inps.shape[1], "right"
        )
        with self.steerer.active(layout):
            return super()._model_call(inps, attn_mask, labels)
