"""The main job: the experiment grid (vectors x strengths x layers x positions x tasks x few-shot x option
order) against a shared unsteered baseline, run through lm-eval into a resumable run store."""
