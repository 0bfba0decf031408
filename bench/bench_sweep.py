"""What a strength sweep costs, measured side by side in one run (issue 10's four measures).

On the demo model (4 layers, hidden 64) and on a mid-size model built from a config (Llama, 12 layers,
hidden 768, vocabulary 32000, random weights), for one vector at block L = N/2 and K = 5 strengths:

1. one steered strength (steer-eval) vs unsteered lm-eval `hf`, same requests and batch size: median
   wall-time ratio (target <= 1.03);
2. the sweep plus baseline in one `steer-eval` process vs lm-eval `steered` once per strength plus `hf`
   once for the baseline, each a fresh `lm_eval` process, as users do today: wall-time ratio (target <= 0.5);
3. the sweep's cost in full-pass equivalents (in-process, baseline + K strengths over one pass's time)
   vs the model 1 + K (N - L) / N (target: within 10 %); also shown with the unembedding counted;
4. peak memory of the sweep vs a single unsteered pass, each in a fresh process (target <= 1.2x): the
   process's peak RSS, and the working memory above the loaded model.

    python bench/bench_sweep.py                      # both models; about 15 min on 2 CPU cores
    python bench/bench_sweep.py --models demo --limit 60 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import torch  # noqa: E402

K_STRENGTHS = (-8.0, -4.0, 2.0, 4.0, 8.0)
TASKS = {"demo": "demo_sentiment", "mid": "se_sst2"}
MID = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12, vocab_size=32000)


# ---- set-up ----------------------------------------------------------------------------------------


def model_dir(which: str, workdir: Path) -> Path:
    if which == "demo":
        from steer_eval.demo.cache import demo_model_dir

        return demo_model_dir(progress=False)
    target = workdir / "mid"
    if not (target / "config.json").exists():
        import transformers
        from tiny import bpe_tokenizer

        from steer_eval.tasks import load_split

        texts = [item.prompt for item in load_split("sst2", "train", data_dir=data_dir())[:4000]]
        tokenizer = bpe_tokenizer(texts, vocab_size=4000)
        config = transformers.LlamaConfig(
            **MID, num_key_value_heads=12, max_position_embeddings=1024, pad_token_id=0, bos_token_id=1, eos_token_id=2
        )
        torch.manual_seed(0)
        transformers.AutoModelForCausalLM.from_config(config).save_pretrained(target)
        tokenizer.save_pretrained(target)
    return target


def data_dir() -> str | None:
    shared = ROOT.parent / "shared" / "data"
    return str(shared) if shared.is_dir() else os.environ.get("STEER_EVAL_DATA")


def vector_files(directory: Path, workdir: Path, which: str) -> tuple[Path, list[Path], int, int]:
    """A random direction at block N/2 (norm: a typical hidden-state norm there), in our format and as
    one lm-eval `.pt` per strength."""
    from steer_eval.steering.model_map import ModelMap
    from steer_eval.vectors.format import SiteKey, SteeringVector, VectorMeta, save_vector
    from steer_eval.vectors.lmeval_pt import write_lmeval_pt
    from steer_eval.vocab import Site

    model_map = ModelMap.from_config_only(str(directory))
    layer = model_map.n_layers // 2
    direction = torch.randn(model_map.hidden_size, generator=torch.Generator().manual_seed(0))
    vector = SteeringVector({SiteKey(Site.RESID, layer): direction / direction.norm()}, VectorMeta(method="random"))
    ours = save_vector(vector, workdir / f"{which}.safetensors")
    theirs = []
    for alpha in K_STRENGTHS:
        path = workdir / f"{which}_x{alpha:g}.pt"
        write_lmeval_pt(vector, path, model_map.hookpoint, alpha=alpha)
        theirs.append(path)
    return ours, theirs, layer, model_map.n_layers


def task_requests(task: str, limit: int) -> list:
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_path=str(ROOT / "tasks"), include_defaults=False)
    loaded = manager.load([task])["tasks"][task]
    loaded.build_all_requests(limit=limit, rank=0, world_size=1)
    return [instance for instance in loaded.instances]


def lm_of(kind: str, directory: Path, batch_size: int):
    from lm_eval.models.huggingface import HFLM

    from steer_eval.steering.lm_model import SteerEvalLM

    cls = HFLM if kind == "hf" else SteerEvalLM
    lm = cls(pretrained=str(directory), device="cpu", batch_size=batch_size, dtype="float32")
    if kind != "hf":
        lm.quiet = True
    return lm


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# ---- measures ----------------------------------------------------------------------------------------


def single_strength(directory: Path, vector: Path, layer: int, requests: list, args) -> dict:
    from steer_eval.steering.interventions import interventions_from_vector
    from steer_eval.vectors.format import load_vector

    hf, ours = lm_of("hf", directory, args.batch_size), lm_of("ours", directory, args.batch_size)
    ours.set_interventions(interventions_from_vector(load_vector(vector), alpha=4.0))
    times: dict[str, list[float]] = {"hf": [], "ours": []}
    for _ in range(args.repeats):  # interleaved, so drift hits both alike
        times["hf"].append(timed(lambda: hf.loglikelihood(requests, disable_tqdm=True)))
        times["ours"].append(timed(lambda: ours.loglikelihood(requests, disable_tqdm=True)))
    hf_s, ours_s = statistics.median(times["hf"]), statistics.median(times["ours"])
    return {"hf_s": hf_s, "steered_s": ours_s, "ratio": ours_s / hf_s}


def sweep_cost(directory: Path, vector: Path, layer: int, n_layers: int, requests: list, args) -> dict:
    from steer_eval.steering.interventions import interventions_from_vector
    from steer_eval.vectors.format import load_vector

    lm = lm_of("ours", directory, args.batch_size)
    loaded = load_vector(vector)
    settings = {"baseline": [], **{a: interventions_from_vector(loaded, alpha=a) for a in K_STRENGTHS}}

    def one_pass() -> None:
        lm.set_interventions([])
        lm.loglikelihood(requests, disable_tqdm=True)

    def sweep(reuse: bool) -> None:
        lm.prefix_reuse = reuse
        lm.plan_sweep(settings)
        for key in settings:
            lm.use_setting(key)
            lm.loglikelihood(requests, disable_tqdm=True)
        lm.end_sweep()

    sweep(True)  # warm-up, and the one-off replay check
    full, reuse, plain = [], [], []
    for _ in range(args.repeats):
        full.append(timed(one_pass))
        reuse.append(timed(lambda: sweep(True)))
        plain.append(timed(lambda: sweep(False)))
    k, n = len(K_STRENGTHS), n_layers
    config = lm.model.config
    block = 4 * config.hidden_size**2 + 3 * config.hidden_size * config.intermediate_size  # Llama MACs/token
    head = config.hidden_size * config.vocab_size
    full_s = statistics.median(full)
    measured = statistics.median(reuse) / full_s
    model = 1 + k * (n - layer) / n
    with_head = 1 + k * ((n - layer) * block + head) / (n * block + head)
    return {
        "full_pass_s": full_s,
        "sweep_s": statistics.median(reuse),
        "sweep_without_reuse_s": statistics.median(plain),
        "full_pass_equivalents": measured,
        "model": model,
        "model_with_unembedding": with_head,
        "off_model": measured / model - 1,
        "off_model_with_unembedding": measured / with_head - 1,
        "speedup_vs_full_passes": statistics.median(plain) / statistics.median(reuse),
    }


def processes(directory: Path, vector: Path, pts: list[Path], task: str, args, workdir: Path) -> dict:
    env = {**os.environ, "STEER_EVAL_DATA": data_dir() or "", "PYTHONWARNINGS": "ignore"}
    common = ["--tasks", task, "--include_path", str(ROOT / "tasks"), "--limit", str(args.limit)]
    common += ["--batch_size", str(args.batch_size), "--device", "cpu"]
    theirs = [[sys.executable, "-m", "lm_eval", "--model", "hf", "--model_args", f"pretrained={directory}", *common]]
    for pt in pts:
        model_args = f"pretrained={directory},steer_path={pt}"
        theirs.append([sys.executable, "-m", "lm_eval", "--model", "steered", "--model_args", model_args, *common])
    alphas = ",".join(f"{a:g}" for a in K_STRENGTHS)
    ours = [sys.executable, "-m", "steer_eval", "--model", str(directory), "--vectors", str(vector)]
    ours += ["--tasks", task.removeprefix("se_"), "--alphas", alphas, "--limit", str(args.limit)]
    ours += ["--batch-size", str(args.batch_size), "--device", "cpu", "--dtype", "float32"]
    ours += ["--output", str(workdir / f"run-{task}-{time.time_ns()}")]

    def run(command: list[str]) -> float:
        start = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"{' '.join(command[:6])} ... failed:\n{done.stderr[-3000:]}")
        return time.perf_counter() - start

    their_s = sum(run(command) for command in theirs)
    our_s = run(ours)
    return {"lm_eval_processes": len(theirs), "lm_eval_s": their_s, "steer_eval_s": our_s, "ratio": our_s / their_s}


def memory(directory: Path, vector: Path, task: str, args) -> dict:
    out = {}
    for mode in ("single", "sweep"):
        command = [sys.executable, __file__, "--child", mode, "--dir", str(directory), "--vector", str(vector)]
        command += ["--task", task, "--limit", str(args.limit), "--batch-size", str(args.batch_size)]
        done = subprocess.run(
            command, capture_output=True, text=True, env={**os.environ, "STEER_EVAL_DATA": data_dir() or ""}
        )
        if done.returncode:
            raise SystemExit(f"memory child failed:\n{done.stderr[-3000:]}")
        out[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    single, sweep = out["single"], out["sweep"]
    return {
        "single_peak_mib": single["peak"],
        "sweep_peak_mib": sweep["peak"],
        "peak_ratio": sweep["peak"] / single["peak"],
        "single_working_mib": single["peak"] - single["loaded"],
        "sweep_working_mib": sweep["peak"] - sweep["loaded"],
        "working_ratio": (sweep["peak"] - sweep["loaded"]) / max(single["peak"] - single["loaded"], 1e-9),
    }


def child(args) -> None:
    """One fresh process: load, then one unsteered pass or the whole sweep; print RSS figures (MiB)."""
    from steer_eval.steering.interventions import interventions_from_vector
    from steer_eval.vectors.format import load_vector

    requests = task_requests(args.task, args.limit)
    lm = lm_of("ours", Path(args.dir), args.batch_size)
    with open("/proc/self/statm") as statm:
        loaded = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    if args.child == "single":
        lm.loglikelihood(requests, disable_tqdm=True)
    else:
        vector = load_vector(Path(args.vector))
        settings = {"baseline": [], **{a: interventions_from_vector(vector, alpha=a) for a in K_STRENGTHS}}
        lm.plan_sweep(settings)
        for key in settings:
            lm.use_setting(key)
            lm.loglikelihood(requests, disable_tqdm=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"loaded": loaded, "peak": peak}))


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        names = [line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")]
        cpu = names[0].split(":", 1)[1].strip() if names else cpu
    except OSError:
        pass
    threads, python = torch.get_num_threads(), platform.python_version()
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({threads} threads), Python {python}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="demo,mid", help="demo, mid or both (default)")
    parser.add_argument("--limit", type=int, default=48, help="task items per pass")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--skip-processes", action="store_true", help="skip measure 2 (the slowest)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--child", choices=["single", "sweep"], help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    parser.add_argument("--vector", help=argparse.SUPPRESS)
    parser.add_argument("--task", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    if data_dir():
        os.environ["STEER_EVAL_DATA"] = data_dir()
    print(f"machine: {machine()}")
    results = {"machine": machine(), "args": {k: str(v) for k, v in vars(args).items()}}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for which in args.models.split(","):
            task = TASKS[which]
            directory = model_dir(which, workdir)
            vector, pts, layer, n_layers = vector_files(directory, workdir, which)
            requests = task_requests(task, args.limit)
            print(f"\n== {which}: {n_layers} layers, vector at block {layer}, {task}, {args.limit} items "
                  f"({len(requests)} requests), batch {args.batch_size}, {len(K_STRENGTHS)} strengths")  # fmt: skip
            result = {"layers": n_layers, "layer": layer, "task": task, "requests": len(requests)}
            result["single"] = single_strength(directory, vector, layer, requests, args)
            s = result["single"]
            print(
                f"1. one steered strength / lm-eval hf: {s['ratio']:.3f}  ({s['steered_s']:.2f} s vs {s['hf_s']:.2f} s)"
            )
            result["sweep"] = c = sweep_cost(directory, vector, layer, n_layers, requests, args)
            print(f"3. sweep (baseline + {len(K_STRENGTHS)}) in full-pass equivalents: "
                  f"{c['full_pass_equivalents']:.2f} "
                  f"vs model 1 + K(N-L)/N = {c['model']:.2f} ({c['off_model']:+.1%}); with the unembedding counted "
                  f"{c['model_with_unembedding']:.2f} ({c['off_model_with_unembedding']:+.1%}); "
                  f"{c['speedup_vs_full_passes']:.2f}x faster than full passes per setting")  # fmt: skip
            if not args.skip_processes:
                result["processes"] = p = processes(directory, vector, pts, task, args, workdir)
                print(f"2. steer-eval sweep process / {p['lm_eval_processes']} lm-eval processes: {p['ratio']:.3f}  "
                      f"({p['steer_eval_s']:.1f} s vs {p['lm_eval_s']:.1f} s)")  # fmt: skip
            result["memory"] = m = memory(directory, vector, task, args)
            print(f"4. peak memory, sweep / single pass: {m['peak_ratio']:.3f} ({m['sweep_peak_mib']:.0f} vs "
                  f"{m['single_peak_mib']:.0f} MiB); working memory above the loaded model: {m['working_ratio']:.3f} "
                  f"({m['sweep_working_mib']:.0f} vs {m['single_working_mib']:.0f} MiB)")  # fmt: skip
            results[which] = result
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
