"""Loaders for the demo tasks: lm-eval calls them through `custom_dataset` with the task's metadata."""

from steer_eval.demo.tasks import demo_dataset


def sentiment(**kwargs):
    return demo_dataset("demo_sentiment", **kwargs)


def sycophancy(**kwargs):
    return demo_dataset("demo_sycophancy", **kwargs)


def facts(**kwargs):
    return demo_dataset("demo_facts", **kwargs)


def compare(**kwargs):
    return demo_dataset("demo_compare", **kwargs)


def sentiment_mc(**kwargs):
    """Lettered items through the registry's adapter: the runner's option-order rotations reach it as
    `option_order` / `option_orders` in the metadata."""
    from steer_eval.tasks.lmeval_adapter import dataset

    return dataset("demo_sentiment_mc", **kwargs)


def mood_gen(**kwargs):
    from steer_eval.demo.generation_tasks import demo_generation_dataset

    return demo_generation_dataset("demo_mood_gen", **kwargs)


def honesty_gen(**kwargs):
    from steer_eval.demo.generation_tasks import demo_generation_dataset

    return demo_generation_dataset("demo_honesty_gen", **kwargs)


def scored_results(doc, results):
    from steer_eval.tasks.lmeval_adapter import scored_results as score

    return score(doc, results)


def mean_scored(values):
    from steer_eval.tasks.lmeval_adapter import mean_scored as mean

    return mean(values)
