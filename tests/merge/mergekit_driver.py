"""Run mergekit 0.1.5 on several YAML recipes in one process (executed by the mergekit venv's Python, not ours).

Usage: python mergekit_driver.py JOBS.json, where JOBS.json lists [recipe.yaml, out_dir] pairs.
"""

import json
import sys

import yaml
from mergekit.config import MergeConfiguration
from mergekit.merge import run_merge
from mergekit.options import MergeOptions


def main() -> None:
    for recipe, out in json.load(open(sys.argv[1])):
        with open(recipe) as f:
            cfg = MergeConfiguration.model_validate(yaml.safe_load(f))
        run_merge(cfg, out, MergeOptions(copy_tokenizer=False, write_model_card=False, quiet=True, random_seed=0,
                                         lazy_unpickle=False))


if __name__ == "__main__":
    main()
