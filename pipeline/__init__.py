"""`mnlu pipeline`: the whole system (data → base → train → export → merge → eval) in one run directory.

Its own package (issue 13.3): it drives the other packages only through their command-line entry points, one
process per stage, so it never imports jax, train_jax, merge or eval itself.

- `pipeline.config`: the typed pipeline config (`configs/demo.yaml`), with errors that name the key;
- `pipeline.stages`: what each stage runs;
- `pipeline.run`: markers, fingerprints, the run loop, the summary and the `mnlu pipeline` command.
"""

from pipeline.config import PipelineConfig, PipelineError, load_pipeline_config

__all__ = ["PipelineConfig", "PipelineError", "load_pipeline_config"]
