"""The optimizer and schedule by name: each name gives its torch optimizer with the config's
settings, a bad name is one line naming the key, and the schedule has its documented shape."""

from __future__ import annotations

import math

import pytest
import torch

from mirnet.config import OptimConfig
from mirnet.errors import ConfigError
from mirnet.train.optim import build_optimizer, lr_factor


@pytest.mark.parametrize(
    "name, cls", [("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW), ("sgd", torch.optim.SGD)]
)
def test_each_optimizer_by_name_with_the_configs_settings(name, cls):
    params = [torch.nn.Parameter(torch.ones(3))]
    opt = build_optimizer(params, OptimConfig(name=name, lr=0.25, weight_decay=0.01, momentum=0.5))
    assert type(opt) is cls
    group = opt.param_groups[0]
    assert group["lr"] == 0.25 and group["weight_decay"] == 0.01
    assert group["params"][0] is params[0]
    if name == "sgd":
        assert group["momentum"] == 0.5


def test_an_unknown_optimizer_is_one_line_naming_the_key():
    with pytest.raises(ConfigError, match=r"^optim.name: expected one of adam, adamw, sgd, got 'lamb'$"):
        build_optimizer([torch.nn.Parameter(torch.ones(1))], OptimConfig(name="lamb"))


def test_warmup_then_cosine_down_to_the_floor():
    total, warmup, floor = 110, 10, 0.05
    f = [lr_factor(s, total, warmup, "cosine", floor) for s in range(total + 5)]
    assert f[:warmup] == pytest.approx([(s + 1) / warmup for s in range(warmup)])
    assert f[warmup] == pytest.approx(1.0)
    assert f[warmup + 50] == pytest.approx(floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert f[total] == pytest.approx(floor) and f[-1] == pytest.approx(floor)  # past the end: the floor
    assert all(a >= b for a, b in zip(f[warmup:], f[warmup + 1 :]))
    assert [lr_factor(s, total, warmup, "constant", floor) for s in (warmup, total)] == [1.0, 1.0]
