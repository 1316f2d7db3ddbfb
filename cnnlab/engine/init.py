"""Weight initializers.

An initializer is called as ``init(shape, fan_in, fan_out, rng, dtype) -> array`` and has a
JSON ``spec`` so a layer's config can name it:

- ``he_normal``: N(0, 2 / fan_in) — for ReLU networks (He et al. 2015).
- ``glorot_uniform``: U(±sqrt(6 / (fan_in + fan_out))) (Glorot & Bengio 2010).
- ``normal(sigma)``: N(0, sigma²) — the classic exercises use sigma = 0.001 … 0.01.
- ``uniform(a, b)``: U(a, b).
- ``zeros``.

For a conv weight ``(C_out, C_in, kh, kw)``, ``fan_in = C_in·kh·kw`` and
``fan_out = C_out·kh·kw`` (the Keras convention); for Dense ``(in, out)`` they are
``in`` and ``out``.
"""

from __future__ import annotations

import math

import numpy as np


class Initializer:
    """A named way to fill a weight array; ``spec`` is its JSON form."""

    def __init__(self, name: str, **args: float):
        self.name = name
        self.args = {k: float(v) for k, v in args.items()}

    @property
    def spec(self) -> str | dict:
        """``"he_normal"`` or ``{"name": "normal", "sigma": 0.01}``."""
        return {"name": self.name, **self.args} if self.args else self.name

    def __call__(self, shape: tuple[int, ...], fan_in: int, fan_out: int,
                 rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
        """A new array of ``shape`` and ``dtype`` drawn from ``rng`` directly in ``dtype``
        (no float64 intermediate: a big float32 layer costs its own size, not twice more)."""
        dtype = np.dtype(dtype)
        if self.name == "zeros":
            return np.zeros(shape, dtype=dtype)
        if self.name in ("he_normal", "normal"):
            scale = math.sqrt(2.0 / fan_in) if self.name == "he_normal" else self.args["sigma"]
            out = rng.standard_normal(shape, dtype=dtype)
            out *= dtype.type(scale)
            return out
        if self.name == "glorot_uniform":
            limit = math.sqrt(6.0 / (fan_in + fan_out))
            low, high = -limit, limit
        elif self.name == "uniform":
            low, high = self.args["a"], self.args["b"]
        else:
            raise AssertionError(self.name)  # get_initializer only builds the names above
        out = rng.random(shape, dtype=dtype)  # U[0, 1)
        out *= dtype.type(high - low)
        out += dtype.type(low)
        return out

    def __eq__(self, other) -> bool:
        return isinstance(other, Initializer) and self.spec == other.spec

    def __hash__(self) -> int:
        return hash(repr(self.spec))

    def __repr__(self) -> str:
        args = ", ".join(f"{v:g}" for v in self.args.values())
        return f"{self.name}({args})" if self.args else self.name


he_normal = Initializer("he_normal")
glorot_uniform = Initializer("glorot_uniform")
zeros = Initializer("zeros")


def normal(sigma: float = 0.01) -> Initializer:
    """N(0, sigma²); ``sigma`` must be positive."""
    if not (isinstance(sigma, (int, float)) and math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"normal initializer: sigma must be a positive number, got {sigma!r}")
    return Initializer("normal", sigma=sigma)


def uniform(a: float = -0.05, b: float = 0.05) -> Initializer:
    """U(a, b) with ``a < b``."""
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in (a, b)) or not a < b:
        raise ValueError(f"uniform initializer: need finite a < b, got a={a!r}, b={b!r}")
    return Initializer("uniform", a=a, b=b)


_FIXED = {"he_normal": he_normal, "glorot_uniform": glorot_uniform, "zeros": zeros}
_FACTORIES = {"normal": normal, "uniform": uniform}
NAMES = tuple(_FIXED) + tuple(_FACTORIES)


def get_initializer(name_or_spec) -> Initializer:
    """An :class:`Initializer` from a name (``"he_normal"``, ``"normal"`` with its
    default sigma 0.01), a spec dict (``{"name": "uniform", "a": -0.1, "b": 0.1}``)
    or an initializer. Raises ``ValueError`` naming the known initializers."""
    if isinstance(name_or_spec, Initializer):
        return name_or_spec
    if isinstance(name_or_spec, str):
        name, args = name_or_spec, {}
    elif isinstance(name_or_spec, dict) and isinstance(name_or_spec.get("name"), str):
        args = dict(name_or_spec)
        name = args.pop("name")
    else:
        raise ValueError(f"initializer must be a name or a {{'name': ...}} dict, got {name_or_spec!r}")
    if name in _FIXED and not args:
        return _FIXED[name]
    if name in _FACTORIES:
        try:
            return _FACTORIES[name](**args)
        except TypeError as exc:
            raise ValueError(f"initializer {name!r}: bad arguments {args!r} ({exc})") from None
    raise ValueError(f"unknown initializer {name_or_spec!r}; known: {', '.join(NAMES)}")
