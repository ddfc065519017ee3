"""``mirnet train``: one run of an experiment, on one process or one of torchrun's."""

from __future__ import annotations

import json

from ..train.experiment import load_experiment
from .common import progress_of


def add_train(sub) -> None:
    s = sub.add_parser("train", help="train an experiment from a YAML config")
    s.add_argument("config")
    s.add_argument("exp", help="experiment directory (checkpoints, logs, resolved config)")
    s.add_argument("overrides", nargs="*", help="section.key=value, e.g. optim.lr=1e-3")
    s.add_argument("--resume", action="store_true")
    s.add_argument(
        "--check",
        action="store_true",
        help="build what the run needs (corpus, data, model, loss, optimizer), put one batch through "
        "model and loss, print a one-line summary and exit without training or writing",
    )
    s.set_defaults(func=_train)


def _train(a):
    from ..train import distributed
    from ..train.trainer import Trainer

    cfg = load_experiment(a.config, a.overrides)
    try:
        trainer = Trainer(cfg, a.exp, progress=progress_of(a))
        result = trainer.check(resume=a.resume) if a.check else trainer.run(resume=a.resume)
        # before leave(): DDP's reducer holds the process group, and freed after a gloo group
        # was torn down, its destructor waits forever on the group's threads
        del trainer
    except BaseException:
        distributed.leave(wait=False)
        raise
    distributed.leave()
    if distributed.is_main_process():
        print(result if a.check else json.dumps(result, indent=1))
