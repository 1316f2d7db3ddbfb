"""The order ``Sequential`` runs its layers in: as listed, except that a ReLU directly
followed by a max pool runs after the pool.

Max-pooling commutes with ReLU: ``max(relu(a), relu(b)) = relu(max(a, b))``, because ReLU
never reorders two numbers. So ``pool(relu(x)) == relu(pool(x))`` exactly, and the second
applies ReLU to a quarter of the values (2x2 pool), both forward and backward. The
gradients agree exactly too: each window's gradient goes to its first maximum either way,
and ReLU's mask there is the same (a window whose maximum is <= 0 gets zero gradient in
both orders).

Only pools whose windows tile their input exactly (stride = kernel, no remainder) are
swapped, so every value still passes through ReLU's statistics (``ReLU._y`` then holds the
pooled activations: a channel is dead in it exactly when it is dead before pooling).
"""

from __future__ import annotations

from cnnlab.engine.layers import MaxPool2D, ReLU


def _tiles_exactly(pool: MaxPool2D, shape: tuple[int, ...]) -> bool:
    (kh, kw), (h, w) = pool.kernel_size, shape[-2:]
    return pool.stride == pool.kernel_size and h % kh == 0 and w % kw == 0


def run_order(layers, input_shapes) -> list[int]:
    """Indices of ``layers`` in the order to run them; ``input_shapes[i]`` is the
    per-sample input shape of layer ``i``."""
    order = list(range(len(layers)))
    i = 0
    while i < len(layers) - 1:
        pool = layers[i + 1]
        if (type(layers[i]) is ReLU and type(pool) is MaxPool2D
                and len(input_shapes[i + 1]) == 3 and _tiles_exactly(pool, input_shapes[i + 1])):
            order[i], order[i + 1] = i + 1, i
            i += 2
        else:
            i += 1
    return order
