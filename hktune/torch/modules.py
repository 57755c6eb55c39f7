"""``Linear``: nn.Linear whose forward runs the tuned GEMM; ``patch``: swap a model's nn.Linear
(for ``Linear``, or with ``dtype="fp8_e4m3"`` for ``Fp8Linear``: hktune.torch.fp8)."""
from __future__ import annotations

import torch
from torch import nn

from hktune.torch.fp8 import Fp8Linear
from hktune.torch.functional import linear


class Linear(nn.Linear):
    """A drop-in for nn.Linear: same parameters, initialisation and state_dict; forward goes
    through hktune.torch.linear (the tuned kernel for bf16 shapes the tables serve)."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return linear(input, self.weight, self.bias)

    @classmethod
    def from_linear(cls, lin: nn.Linear) -> "Linear":
        """A Linear sharing ``lin``'s parameters (no copy), mode and hooks."""
        new = cls.__new__(cls)
        nn.Module.__init__(new)
        new.in_features, new.out_features = lin.in_features, lin.out_features
        new.weight = lin.weight
        new.register_parameter("bias", lin.bias)
        new.train(lin.training)
        # Hooks on the original (e.g. a shape capture) keep working on the swapped module.
        for name in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks",
                     "_state_dict_hooks", "_load_state_dict_pre_hooks", "_forward_hooks_with_kwargs",
                     "_forward_pre_hooks_with_kwargs", "_forward_hooks_always_called"):
            if hasattr(lin, name):
                getattr(new, name).update(getattr(lin, name))
        return new


_SWAP = {"bf16": Linear.from_linear, "fp8_e4m3": Fp8Linear.from_linear}


def patch(model: nn.Module, dtype: str = "bf16") -> list[str]:
    """Replace every plain nn.Linear inside ``model`` by a hktune Linear sharing its parameters
    (``dtype="fp8_e4m3"``: by an Fp8Linear holding its weight quantised, scale = amax / 448, and
    scaling its input per call).

    Returns the qualified names swapped (a module registered under two names is swapped under
    both, into one shared module). Subclasses of nn.Linear are left alone: their forward may do
    more than F.linear. The model itself cannot be swapped in place: use Linear.from_linear."""
    if type(model) is nn.Linear:
        raise TypeError("patch() swaps the nn.Linear modules inside a model; for a bare nn.Linear use hktune.torch.Linear.from_linear")
    if dtype not in _SWAP:
        raise ValueError(f"patch: dtype {dtype!r} is not one of {', '.join(_SWAP)}")
    swap = _SWAP[dtype]
    swapped: list[str] = []
    new_of: dict[int, nn.Module] = {}
    made: set[int] = set()
    for qual, parent in list(model.named_modules(remove_duplicate=False)):
        for name, child in list(parent._modules.items()):
            full = f"{qual}.{name}" if qual else name
            if child is not None and id(child) in made:
                swapped.append(full)  # a shared container seen again: already swapped
            elif type(child) is nn.Linear:
                new = new_of.get(id(child))
                if new is None:
                    new = new_of[id(child)] = swap(child)
                    made.add(id(new))
                setattr(parent, name, new)
                swapped.append(full)
    return swapped
