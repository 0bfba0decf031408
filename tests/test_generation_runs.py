"""Generation cells end to end on the demo model: a sweep generates every setting in shared batches and gets
the texts each setting gets on its own; a run of the demo's generation tasks finds the planted mood and style
pushes by the rule scorers (beyond their placebos), leaves the other behaviour alone at moderate strength, and
records a fluency cost that grows with strength; the rival arms (the world's own instruction, demonstrations,
the vector with the instruction) are judged in the same table, and each vector is compared with asking."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from lm_eval.api.instance import Instance

from steer_eval.demo.model import DemoRecipe
from steer_eval.demo.run import planted_vector
from steer_eval.run.config import RunConfig
from steer_eval.run.main import run
from steer_eval.steering.interventions import interventions_from_vector
from steer_eval.steering.lm_model import SteerEvalLM
from steer_eval.tasks import load_split
from steer_eval.vectors.format import save_vector
from steer_eval.vocab import PositionMode

GEN = {"until": ["user :", "note :"], "max_gen_toks": 8, "do_sample": False}


@pytest.fixture(scope="module")
def demo_lm(demo_dir: Path) -> SteerEvalLM:
    lm = SteerEvalLM(pretrained=str(demo_dir), device="cpu", batch_size=16)
    lm.quiet = True
    return lm


def _requests(n: int = 40) -> list[Instance]:
    prompts = [item.prompt for item in load_split("demo_mood_gen", "test")[:n]]
    return [Instance("generate_until", {}, (p, GEN), i) for i, p in enumerate(prompts)]


def _alone(lm: SteerEvalLM, settings: dict, requests: list[Instance]) -> dict:
    """Each setting's texts, generated with only that setting on."""
    alone = {}
    for key, interventions in settings.items():
        with lm.steering(interventions):
            alone[key] = lm.generate_until(requests)
    return alone


def _swept(
    lm: SteerEvalLM, settings: dict, requests: list[Instance], checkpoint: Path | None = None, seed: int | None = None
) -> dict:
    """Each setting's texts from one sweep over all of them."""
    lm.plan_sweep(settings, checkpoint, seed)
    try:
        swept = {}
        for key in settings:
            lm.use_setting(key)
            swept[key] = lm.generate_until(requests)
    finally:
        lm.end_sweep()
    return swept


def test_a_generation_sweep_gets_each_settings_own_texts_in_fewer_calls(demo_lm: SteerEvalLM, monkeypatch) -> None:
    vector = planted_vector("mood", DemoRecipe())
    settings = {
        alpha: interventions_from_vector(vector, alpha=alpha, positions=PositionMode.GENERATED) if alpha else []
        for alpha in (0.0, -1.0, 0.5, 1.0, 2.0)
    }
    requests = _requests()
    calls = []
    original = type(demo_lm)._model_generate

    def counted(self, context, *args, **kwargs):
        calls.append(context.shape[0])
        return original(self, context, *args, **kwargs)

    monkeypatch.setattr(type(demo_lm), "_model_generate", counted)
    alone = _alone(demo_lm, settings, requests)
    separate_calls, calls[:] = len(calls), []
    assert _swept(demo_lm, settings, requests) == alone
    assert len({tuple(texts) for texts in alone.values()}) > 2, "the strengths must change the texts"
    assert len(calls) * len(settings) == separate_calls and max(calls) == 5 * 16, "one call answers 5 settings"


@pytest.mark.parametrize("positions", [PositionMode.LAST_PROMPT, PositionMode.ALL, PositionMode.PROMPT])
def test_settings_share_the_prompt_cache_as_far_as_they_agree(
    demo_lm: SteerEvalLM, monkeypatch, positions: PositionMode
) -> None:
    """At `generated` / `last_prompt` positions every setting's prompt cache (all but the last token) is the
    unsteered one, so all of it is computed once and shared; steering that reaches the prompt shares only the
    blocks below the steered one. Either way the texts are each setting's own, and without sharing too."""
    vector = planted_vector("mood", DemoRecipe())
    settings = {alpha: interventions_from_vector(vector, alpha=alpha, positions=positions) for alpha in (-16, 4, 16)}
    requests = _requests(24)
    alone = _alone(demo_lm, settings, requests)
    shared = []
    original = type(demo_lm)._shared_prompt_cache

    def counted(self, encoded, mask, copies, start, interventions):
        shared.append((encoded.shape[0], copies, start))
        return original(self, encoded, mask, copies, start, interventions)

    monkeypatch.setattr(type(demo_lm), "_shared_prompt_cache", counted)
    assert _swept(demo_lm, settings, requests) == alone
    assert len({tuple(texts) for texts in alone.values()}) > 1, "the strengths must change the texts"
    steered_block = min(key.layer for key in vector.directions)
    below = DemoRecipe().layers if positions is PositionMode.LAST_PROMPT else steered_block
    assert shared == [(16, 3, below), (8, 3, below)], "one prompt cache per batch, repeated for the three settings"
    assert demo_lm._prompt_cache.replay_works
    monkeypatch.setattr(type(demo_lm), "share_prompt_cache", False)
    shared.clear()
    assert _swept(demo_lm, settings, requests) == alone and shared == []


def test_a_sweep_of_other_actions_and_vectors_keeps_each_setting_on_its_own_rows(demo_lm: SteerEvalLM) -> None:
    """Settings that are not one vector's additions (a clamp, two vectors together) are not merged: each acts,
    in its order, on its own rows, and the texts are still each setting's own."""
    from dataclasses import replace

    from steer_eval.vocab import Action

    mood, style = (planted_vector(b, DemoRecipe()) for b in ("mood", "style"))
    generated = PositionMode.GENERATED
    clamp = [replace(i, action=Action.CLAMP) for i in interventions_from_vector(mood, -40.0, generated)]
    settings = {
        "clamp": clamp,
        "both": interventions_from_vector(mood, 1.0, generated) + interventions_from_vector(style, -1.0, generated),
        "none": [],
    }
    requests = _requests(24)
    alone = _alone(demo_lm, settings, requests)
    assert _swept(demo_lm, settings, requests) == alone and alone["clamp"] != alone["none"]


@pytest.mark.parametrize("sampled", [False, True], ids=["greedy", "sampled"])
def test_a_stopped_generation_sweep_keeps_its_batches_and_resumes_with_the_same_texts(
    demo_lm: SteerEvalLM, monkeypatch, tmp_path: Path, sampled: bool
) -> None:
    """Preemption inside a generation group: each batch's texts are kept in the group's checkpoint as they are
    decoded; the resumed sweep decodes only the batches it lacks and ends with the uninterrupted sweep's texts
    (sampled draws too: each batch draws from the run's seed, whatever torch's generator holds, and leaves that
    generator as it was)."""
    import torch

    from steer_eval.steering.text_checkpoint import texts_path

    monkeypatch.setenv("STEER_EVAL_CHECKPOINT_SECONDS", "0")
    kwargs = {**GEN, "do_sample": True, "temperature": 1.5} if sampled else GEN
    repeats = 2 if sampled else 1  # lm-eval's repeats: a sampled prompt asked twice gets two draws
    prompts = [item.prompt for item in load_split("demo_mood_gen", "test")[: 40 // repeats]]
    requests = [Instance("generate_until", {}, (p, kwargs), i) for i, p in enumerate(prompts) for _ in range(repeats)]
    vector = planted_vector("mood", DemoRecipe())
    settings = {a: interventions_from_vector(vector, alpha=a, positions=PositionMode.GENERATED) for a in (0.0, 2.0)}
    torch.manual_seed(5)
    state = torch.get_rng_state()
    uninterrupted = _swept(demo_lm, settings, requests, seed=7)
    assert torch.equal(torch.get_rng_state(), state), "the sweep leaves torch's generator alone"
    calls = []
    original = type(demo_lm)._generate_rows

    def stopped_at_third(self, chunk, part):
        calls.append(len(chunk))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(self, chunk, part)

    monkeypatch.setattr(type(demo_lm), "_generate_rows", stopped_at_third)
    checkpoint = tmp_path / "partial" / "group.safetensors"
    with pytest.raises(KeyboardInterrupt):
        _swept(demo_lm, settings, requests, checkpoint, seed=7)
    assert texts_path(checkpoint).is_file(), "the two finished batches were written as the sweep stopped"
    with texts_path(checkpoint).open("a") as handle:
        handle.write('{"unit": "0:32", "texts": {"0.0": ["torn by a ki')  # a kill in the middle of a write
    total = -(-len(prompts) * repeats // 16)
    calls.clear()
    torch.manual_seed(123)  # where torch's generator stands when the run resumes does not matter
    assert _swept(demo_lm, settings, requests, checkpoint, seed=7) == uninterrupted
    assert len(calls) == total - 2 and demo_lm.resumed == (2, total), "only the batches not kept are decoded"
    assert len({tuple(t) for t in uninterrupted.values()}) == 2, "the strengths must change the texts"
    calls.clear()
    assert _swept(demo_lm, settings, requests, checkpoint, seed=7) == uninterrupted and not calls, (
        "the resumed sweep's batch was appended after the torn line and is read back"
    )


def test_a_generation_sweep_resumed_with_a_smaller_batch_keeps_its_checkpoints_batches(
    demo_lm: SteerEvalLM, monkeypatch, tmp_path: Path
) -> None:
    """`--batch-size auto` may pick another size after a restart (less free memory), or the user may choose a
    smaller one after running out: the resumed sweep still uses the batches kept, and decodes each missing one
    in batches of its own size."""
    monkeypatch.setenv("STEER_EVAL_CHECKPOINT_SECONDS", "0")
    requests = _requests(40)
    vector = planted_vector("mood", DemoRecipe())
    settings = {a: interventions_from_vector(vector, alpha=a, positions=PositionMode.GENERATED) for a in (0.0, 2.0)}
    uninterrupted = _swept(demo_lm, settings, requests)
    calls = []
    original = type(demo_lm)._generate_rows

    stop = [True]

    def stopped_at_second(self, chunk, part):
        calls.append(len(chunk))
        if len(calls) == 2 and stop[0]:
            raise KeyboardInterrupt
        return original(self, chunk, part)

    monkeypatch.setattr(type(demo_lm), "_generate_rows", stopped_at_second)
    checkpoint = tmp_path / "partial" / "group.safetensors"
    with pytest.raises(KeyboardInterrupt):
        _swept(demo_lm, settings, requests, checkpoint)
    calls.clear()
    stop[0] = False
    monkeypatch.setattr(demo_lm, "batch_size_per_gpu", 8)
    assert _swept(demo_lm, settings, requests, checkpoint) == uninterrupted
    assert demo_lm.resumed == (1, 3), "the batch of 16 decoded before the stop is kept"
    assert calls == [8, 8, 8], "the two missing batches of 16 (the second holds 8) are decoded 8 prompts at a time"


def test_the_unsteered_model_finds_its_own_text_likely_and_degenerate_text_not(demo_lm: SteerEvalLM) -> None:
    prompt = load_split("demo_mood_gen", "test")[0].prompt
    own = demo_lm.generate_until([Instance("generate_until", {}, (prompt, GEN), 0)])[0]
    nll_own, nll_degenerate = demo_lm.continuation_nll([(prompt, " " + own), (prompt, " silly silly silly silly")])
    assert nll_own < 1.0 and nll_degenerate > max(2.0, 5 * nll_own)
    with demo_lm.steering(interventions_from_vector(planted_vector("mood", DemoRecipe()), alpha=4.0)):
        assert demo_lm.continuation_nll([(prompt, " " + own)]) == [nll_own], "measured unsteered, whatever is set"


@pytest.fixture(scope="module")
def generation_run(demo_dir: Path, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("generation-run")
    paths = []
    for behaviour in ("mood", "style"):
        path = folder / f"planted-{behaviour}.safetensors"
        save_vector(planted_vector(behaviour, DemoRecipe()), path)
        paths.append(path)
    config = RunConfig(
        model="demo", vectors=paths, tasks=["demo_generation"], alphas=[0.5, 1.0, 2.0],
        positions=[PositionMode.GENERATED],
        controls=["random:1"], device="cpu", batch_size="64", output=folder / "run",
        prompt_arms=[("declared", "")], fewshot_arms=[3],
    )  # fmt: skip
    run(config, progress=False)
    return folder / "run"


def _cell(effects: pd.DataFrame, task: str, vector: str, alpha: float) -> pd.Series:
    rows = effects[(effects.task == task) & (effects.vector == vector) & (effects.alpha == alpha)]
    assert len(rows) == 1
    return rows.iloc[0]


@pytest.mark.parametrize(
    "task, vector", [("demo_mood_gen", "planted-mood.safetensors"), ("demo_honesty_gen", "planted-style.safetensors")]
)
def test_the_rule_scorer_finds_each_planted_push_beyond_its_placebo(generation_run: Path, task, vector) -> None:
    effects = pd.read_csv(generation_run / "effects.csv")
    row = _cell(effects, task, vector, 1.0)
    assert row.verdict == "helps" and row.delta > 0.3 and row.vs_placebo_ci_low > 0.2
    assert row.judge_missing == 0 and row.scorer == {"demo_mood_gen": "demo_mood"}.get(task, "demo_honesty")
    controls = effects[effects.is_control & effects.task.isin(["demo_mood_gen", "demo_honesty_gen"])]
    # steering every generated position, the placebo is not quite null (the world's robustness to random pushes
    # is trained where the reply is decided, not on the words before it): it moves the mood by up to 12 points,
    # never up, and far less than the planted push (docs/demo.md)
    assert (controls.verdict != "helps").all() and controls.delta.abs().max() <= min(0.15, row.delta / 2)


def test_the_fluency_cost_grows_with_strength_and_the_other_behaviour_stays(generation_run: Path) -> None:
    effects = pd.read_csv(generation_run / "effects.csv")
    costs = [_cell(effects, "demo_mood_gen", "planted-mood.safetensors", a).fluency_nll_delta for a in (0.5, 1.0)]
    assert 0 < costs[0] < costs[1]
    assert _cell(effects, "demo_honesty_gen", "planted-mood.safetensors", 0.5).delta == 0
    assert _cell(effects, "demo_honesty_gen", "planted-mood.safetensors", 1.0).delta == 0


def test_generation_cells_keep_texts_scores_and_fluency_and_their_key_names_the_scorer(generation_run: Path) -> None:
    manifest = json.loads((generation_run / "manifest.json").read_text())
    cells = [json.loads(p.read_text()) for p in (generation_run / "cells").glob("*.json")]
    generation = [c for c in cells if c["cell"]["task"]["output"] == "generate_until"]
    assert generation and all(c["cell"]["task"]["scorer"] in ("demo_mood", "demo_honesty") for c in generation)
    record = next(c for c in generation if c["cell"]["task"]["name"] == "demo_mood_gen")["records"][0]
    assert {"text", "score", "nll", "distinct2", "words"} <= set(record) and record["text"].startswith("it was")
    assert all(c["identity"].get("scorer") in ("demo_mood", "demo_honesty") for c in generation)
    assert len(manifest["grid"]["cells"]) == len(cells)
    partial = generation_run / "partial"
    assert not (list(partial.iterdir()) if partial.is_dir() else []), "each group's kept texts go with its cells"


def test_prompting_and_demonstrations_are_rival_arms_in_the_same_table(generation_run: Path) -> None:
    effects = pd.read_csv(generation_run / "effects.csv")
    mood = effects[effects.task == "demo_mood_gen"]
    labels = set(mood.vector)
    assert {"prompt:happy", "fewshot:3", "planted-mood.safetensors+prompt:happy"} <= labels
    asking = mood[mood.vector == "prompt:happy"].iloc[0]
    # the world's tag decides the mood outright: asking helps as much as the planted push at strength 1
    assert asking.verdict == "helps" and asking.arm == "prompt:happy" and asking.delta > 0.3
    vector = _cell(effects, "demo_mood_gen", "planted-mood.safetensors", 1.0)
    assert vector.rival == "prompt:happy" and vector.vs_rival_ci_low <= 0 <= vector.vs_rival_ci_high
    weak = _cell(effects, "demo_mood_gen", "planted-mood.safetensors", 0.5)
    assert weak.vs_rival_ci_high < 0, "at 0.5 the vector does worse than asking"
    assert _cell(effects, "demo_honesty_gen", "planted-style.safetensors", 1.0).rival == "prompt:honest"
    honest = effects[(effects.task == "demo_honesty_gen") & (effects.vector == "prompt:honest")].iloc[0]
    assert honest.verdict == "helps"
    summary = json.loads((generation_run / "results.json").read_text())
    assert summary["verdict_counts"]
    # a vector with the instruction is read beside what the instruction does alone
    from steer_eval.analysis.by_vector import vector_sentences

    line = next(s for s in vector_sentences(effects) if s.startswith("planted-mood.safetensors+prompt:happy"))
    assert "prompt:happy alone moves demo_mood_gen +" in line and "(helps)" in line, line


def test_the_summary_answers_whether_a_vector_beats_asking(generation_run: Path) -> None:
    from steer_eval.analysis.api import analyze
    from steer_eval.analysis.summary import plain_words

    words = plain_words(analyze(generation_run))
    assert "against asking the model" in words
    line = next(s for s in words.splitlines() if s.strip().startswith("planted-mood.safetensors at"))
    assert "demo_mood_gen" in line and ("no detectable difference" in line or "beats" in line or "worse" in line)
    assert "prompt:happy: helps demo_mood_gen (" in words, "an instruction has no strength to report"


def test_the_report_shows_the_steered_texts_and_the_tradeoff(generation_run: Path, tmp_path: Path) -> None:
    from steer_eval.report.build import build_report

    html = build_report(generation_run, tmp_path / "report.html").read_text()
    section = html[html.index("<h2>Free text</h2>") : html.index("<h2>Examples of flipped")]
    assert 'alt="behaviour change against fluency cost over strengths"' in section
    assert "user : how was the" in section and "it was" in section and "unsteered" in section
    assert "planted-mood.safetensors" in section and "prompt:happy" in section


def test_the_tradeoff_legend_names_every_panels_lines_in_their_colours(generation_run: Path, monkeypatch) -> None:
    """prompt:honest is drawn only in the honesty panel: the legend (taken from the first panel) left it out,
    and colours cycled per panel, so its line wore the colour the legend gave prompt:happy."""
    from steer_eval.analysis.api import analyze
    from steer_eval.report import figures

    drawn = {}
    monkeypatch.setattr(figures, "_png", lambda fig: drawn.setdefault("fig", fig) and "png")
    assert figures.tradeoff(analyze(generation_run).effects) == "png"
    fig = drawn["fig"]
    texts, handles = fig.legends[0].get_texts(), fig.legends[0].legend_handles
    legend = {text.get_text(): handle.get_color() for text, handle in zip(texts, handles, strict=True)}
    assert "prompt:happy" in legend and "prompt:honest" in legend
    for ax in fig.axes:
        for line in ax.get_lines():
            if line.get_label() in legend:
                assert line.get_color() == legend[line.get_label()], line.get_label()


def test_a_classifier_scorer_replaces_the_declared_one_and_its_graded_scores_are_paired(
    demo_dir: Path, classifier_dir: str, tmp_path: Path
) -> None:
    path = tmp_path / "planted-mood.safetensors"
    save_vector(planted_vector("mood", DemoRecipe()), path)
    scorer = f"classifier:{classifier_dir}:positive"
    config = RunConfig(
        model="demo", vectors=[path], tasks=["demo_mood_gen"], alphas=[1.0], positions=[PositionMode.GENERATED],
        device="cpu", batch_size="64", output=tmp_path / "run", limit=30, scorers={"demo_mood_gen": scorer},
    )  # fmt: skip
    run(config, progress=False)
    row = pd.read_csv(tmp_path / "run" / "effects.csv").iloc[0]
    assert row.scorer == scorer and row.judge_missing == 0 and row.n == 30
    assert 0 < row.baseline < 1 and row.baseline not in (0.0, 1.0) and row.delta != 0
    cell = json.loads(next((tmp_path / "run" / "cells").glob("*.json")).read_text())
    assert cell["identity"]["scorer"] == scorer


def test_sampled_generation_scores_each_prompt_by_the_mean_of_its_draws(demo_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "planted-mood.safetensors"
    save_vector(planted_vector("mood", DemoRecipe()), path)

    def config(output: str, samples: int) -> RunConfig:
        return RunConfig(
            model="demo", vectors=[path], tasks=["demo_mood_gen"], alphas=[1.0], positions=[PositionMode.GENERATED],
            device="cpu", batch_size="64", output=tmp_path / output, limit=40, samples=samples, seed=3,
        )  # fmt: skip

    run(config("sampled", 4), progress=False)
    cells = [json.loads(p.read_text()) for p in (tmp_path / "sampled" / "cells").glob("*.json")]
    assert all(c["decoding"] == {"samples": 4, "temperature": 1.0} for c in cells)
    records = [r for c in cells for r in c["records"]]
    assert all(len(r["texts"]) == 4 and len(r["scores"]) == 4 for r in records)
    assert all(r["score"] == pytest.approx(sum(r["scores"]) / 4) for r in records if None not in r["scores"])
    assert any(len(set(r["texts"])) > 1 for r in records), "sampling must draw different texts"
    row = pd.read_csv(tmp_path / "sampled" / "effects.csv").iloc[0]
    assert row.verdict == "helps" and row.delta > 0.2
    html = (tmp_path / "sampled" / "report.html").read_text()
    assert "the text shown is the first draw; its score and NLL are the means over the 4 draws" in html
    run(config("again", 4), progress=False)  # seeded: the same draws
    again = [json.loads(p.read_text()) for p in (tmp_path / "again" / "cells").glob("*.json")]
    assert sorted(c["records"][0]["texts"] for c in again) == sorted(c["records"][0]["texts"] for c in cells)
    run(config("greedy", 1), progress=False)  # greedy is another measurement: other cell keys
    greedy = {p.name for p in (tmp_path / "greedy" / "cells").glob("*.json")}
    assert greedy.isdisjoint(p.name for p in (tmp_path / "sampled" / "cells").glob("*.json"))


def test_a_sweep_serves_each_draw_of_a_sampled_request_once(demo_lm: SteerEvalLM) -> None:
    sampled = {**GEN, "do_sample": True, "temperature": 1.5}
    prompt = load_split("demo_mood_gen", "test")[0].prompt
    requests = [Instance("generate_until", {}, (prompt, sampled), 0)] * 6  # lm-eval's repeats: one request, 6 asks
    vector = planted_vector("mood", DemoRecipe())
    settings = {0.0: [], 1.0: interventions_from_vector(vector, alpha=1.0, positions=PositionMode.GENERATED)}
    texts = _swept(demo_lm, settings, requests)
    assert all(len(v) == 6 for v in texts.values())
    assert len(set(texts[0.0]) | set(texts[1.0])) > 2, "six draws per setting, not one text repeated"


def test_caas_open_ended_prompts_need_a_named_scorer_and_run_with_one(
    real_model_dir: Path, shared_data: Path, tmp_path: Path, capsys
) -> None:
    import torch

    from steer_eval.cli import main
    from steer_eval.errors import EXIT_BAD_INPUT
    from steer_eval.steering.model_map import ModelMap
    from steer_eval.vectors.format import SiteKey, SteeringVector, VectorMeta
    from steer_eval.vocab import Site

    hidden = ModelMap.from_config_only(str(real_model_dir)).hidden_size
    vector = tmp_path / "v.safetensors"
    save_vector(SteeringVector({SiteKey(Site.RESID, 1): torch.ones(hidden)}, VectorMeta()), vector)
    args = ["--model", str(real_model_dir), "--vectors", str(vector), "--tasks", "caa_refusal_open", "--alphas", "2",
            "--positions", "generated", "--data-dir", str(shared_data), "--limit", "6", "--device", "cpu",
            "--output", str(tmp_path / "run")]  # fmt: skip
    assert main([*args, "--dry-run"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "caa_refusal_open has no scorer of its own" in err and "--scorer caa_refusal_open=judge:MODEL" in err
    assert main([*args, "--scorer", "caa_refusal_open=refusal"]) == 0
    row = pd.read_csv(tmp_path / "run" / "effects.csv").iloc[0]
    assert row.task == "se_caa_refusal_open" and row.scorer == "refusal" and row.n == 6
    cells = [json.loads(p.read_text()) for p in (tmp_path / "run" / "cells").glob("*.json")]
    base = next(c for c in cells if c["cell"]["vector"] is None)
    assert base["records"][0]["prompt"].startswith("Question: ") and "score" in base["records"][0]


def test_a_cell_whose_texts_got_no_score_says_so_and_the_report_is_written(demo_dir: Path, tmp_path: Path) -> None:
    """A scorer (or a judge) that gives none of a cell's texts a usable score: the cell is `inconclusive` with
    that reason, the summary and the report say so in words (no 'nan'), and the report is still written."""
    from steer_eval.analysis.api import analyze
    from steer_eval.analysis.summary import plain_words

    path = tmp_path / "planted-mood.safetensors"
    save_vector(planted_vector("mood", DemoRecipe()), path)
    output = tmp_path / "run"
    config = RunConfig(
        model="demo", vectors=[path], tasks=["demo_mood_gen"], alphas=[1.0], positions=[PositionMode.GENERATED],
        device="cpu", output=output, limit=10, scorers={"demo_mood_gen": "demo_honesty"},  # a scorer of other texts
    )  # fmt: skip
    run(config, progress=False)
    row = pd.read_csv(output / "effects.csv").iloc[0]
    assert row.verdict == "inconclusive" and row.verdict_reason.startswith("no item was scored"), row.verdict_reason
    assert row.judge_missing == 10 and "10 texts had no usable score" in row.verdict_reason
    words = plain_words(analyze(output))
    assert "nothing scored on demo_mood_gen" in words and "nan" not in words, words
    html = (output / "report.html").read_text()
    assert "no item was scored" in html
    sha = json.loads((output / "manifest.json").read_text())["vectors"]["planted-mood.safetensors"]["sha256"]
    assert f"(content sha256 {sha[:16]})" in html, "the provenance names the vector's content hash"


def test_prompts_cut_to_fit_the_context_are_noted(demo_dir: Path, tmp_path: Path, capsys) -> None:
    """30 demonstrations make prompts of about 450 tokens for a 128-token model: lm-eval cuts them from the
    left without a word; the run says so."""
    path = tmp_path / "planted-mood.safetensors"
    save_vector(planted_vector("mood", DemoRecipe()), path)
    config = RunConfig(
        model="demo", vectors=[path], tasks=["demo_mood_gen"], alphas=[1.0], positions=[PositionMode.GENERATED],
        device="cpu", output=tmp_path / "run", limit=3, fewshot_arms=[30],
    )  # fmt: skip
    run(config, progress=False)
    notes = [line for line in capsys.readouterr().err.splitlines() if "cut from the left" in line]
    assert len(notes) == 1 and "demo_mood_gen: 3 prompt(s) are longer than the 120 tokens" in notes[0], notes


def test_the_free_text_section_shows_the_prompts_whose_scores_the_vectors_moved() -> None:
    """Ranked by changed scores, then changed texts (spacing aside): a vector that only adds a space changed
    nothing a reader should see first."""
    import numpy as np

    from steer_eval.analysis.load import CellData
    from steer_eval.analysis.texts import free_text_rows

    def cell(vector, texts, scores) -> CellData:
        n = len(texts)
        return CellData(
            key=vector or "base", task="t", registry=None, kind="behavior", family="f", output="generate_until",
            target_is_desired=True, vector=vector, control_of=None, vector_sha=None, members=(), member_layers=None,
            alpha=1.0 if vector else 0.0, layer=1, positions="generated", fewshot=0, option_order=0,
            item_ids=[f"i{k}" for k in range(n)], doc_hashes=[""] * n, correct=np.array(scores, dtype=float),
            propensity=np.full(n, np.nan), chosen=np.full(n, -1), texts=texts,
        )  # fmt: skip

    base = cell(None, ["a .", "b .", "c .", "d ."], [0, 0, 0, 1])
    steered = cell("v", ["a . ", "b !", "c .", "e ."], [0, 0, 1, 0])  # i0 spacing only, i1 text, i2 and i3 scores
    rows = free_text_rows([base, steered], {}, {}, per_task=3)
    assert sorted({row["item_id"] for row in rows}) == ["i1", "i2", "i3"], rows


def test_degenerate_text_is_named_as_a_fluency_cost_even_where_nothing_was_scored() -> None:
    """A vector writing "bugs . bugs . bugs ." at its strength 4: nothing scored (inconclusive), +8.8 nats per
    token, distinct-2 -0.5, and the vector's sentence said only 'nothing scored (... judge_missing)'."""
    from steer_eval.analysis.by_vector import vector_sentences
    from steer_eval.analysis.verdicts import NOTHING_SCORED

    base = {"vector": "v.safetensors", "task": "demo_mood_gen", "is_control": False, "option_order": 0,
            "condition": "", "arm": None, "layer": 1.0, "positions": "generated", "fewshot": 0, "kind": "behavior",
            "target_is_desired": True, "desired_sign": 1, "selected": False, "delta": 0.02, "ci_low": -0.1,
            "ci_high": 0.14, "verdict": "no detectable effect",
            "verdict_reason": "minimum detectable effect 0.08"}  # fmt: skip
    rows = pd.DataFrame([
        {**base, "alpha": 1.0, "fluency_nll_delta": 0.1, "fluency_nll_ci_low": -0.05, "distinct_delta": 0.0},
        {**base, "alpha": 4.0, "delta": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"),
         "verdict": "inconclusive", "verdict_reason": f"{NOTHING_SCORED}: ...", "fluency_nll_delta": 8.8,
         "fluency_nll_ci_low": 7.9, "distinct_delta": -0.5},
    ])  # fmt: skip
    (line,) = vector_sentences(rows)
    assert "its text on demo_mood_gen grows less fluent at strength 4 (up to +8.80 nats per token" in line, line
    assert "distinct-2 -0.50" in line and "no detectable effect on demo_mood_gen" not in line
    # no significant cost: no such words
    (line,) = vector_sentences(rows.iloc[:1])
    assert "less fluent" not in line and "no detectable effect on demo_mood_gen" in line
