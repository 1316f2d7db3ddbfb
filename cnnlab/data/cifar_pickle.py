"""Reading a CIFAR-10 "python version" batch without Python's unpickler.

A batch is a pickled dict ``{b"batch_label": bytes, b"labels": [int, ...],
b"data": uint8 (N, 3072), b"filenames": [bytes, ...]}`` written by Python 2 (or re-pickled
by Python 3, protocols 2-5). :func:`read_cifar_pickle` interprets just the pickle opcodes
such a file uses, with rules a real batch obeys and nothing else:

- no code: the only "globals" are NumPy's array/dtype rebuilders (and ``_codecs.encode``
  for protocol-2 bytes), and they are *not* called: an array is built here, only after
  its shape, dtype and byte length agree, and only for numeric dtypes;
- no shared or deeply nested structures: a list, dict or tuple is never referenced twice
  (so nothing can grow exponentially), dict keys must be text, containers nest at most
  ``MAX_DEPTH`` deep, and at most ``MAX_OPS`` opcodes run (a real batch needs ~40,000);
- arrays at most 10,000 x 3,072 values, built as read-only views of the file's bytes.

Any violation raises :class:`PickleRefused` with the reason (callers add the file name).
"""

from __future__ import annotations

import math
import struct

import numpy as np

MAX_OPS = 500_000
MAX_DEPTH = 8
MAX_ARRAY_VALUES = 10_000 * 3072
_DTYPES = {"u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8", "f4", "f8", "b1"}
_ARRAY_GLOBALS = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                  ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
                  ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}


class PickleRefused(ValueError):
    """The bytes are not a pickle a CIFAR batch could be."""


class _Global:
    def __init__(self, module: str, name: str):
        self.name = name if module != "numpy" else f"numpy.{name}"


class _Dtype:
    def __init__(self, code: str):
        self.code, self.order = code, "|"


class _ArrayStub:
    """What ``_reconstruct(ndarray, (0,), b"b")`` stands for until BUILD gives its state."""

    array: np.ndarray | None = None


def _dtype(stub) -> np.dtype:
    if not isinstance(stub, _Dtype):
        raise PickleRefused("an array without a NumPy dtype")
    order = "<" if stub.order in ("|", "<", "=") else ">"
    return np.dtype(stub.code).newbyteorder(order)


def _array(shape, stub, data, fortran: bool) -> np.ndarray:
    dtype = _dtype(stub)
    if not isinstance(shape, tuple) or len(shape) > 4 or not all(
            type(n) is int and n >= 0 for n in shape):
        raise PickleRefused(f"an array with an impossible shape {str(shape)[:60]}")
    count = math.prod(shape)
    if count > MAX_ARRAY_VALUES:
        raise PickleRefused(f"an array of {count:,} values; a CIFAR batch holds at most "
                            f"{MAX_ARRAY_VALUES:,}")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise PickleRefused("an array whose values are not stored as bytes")
    if len(data) != count * dtype.itemsize:
        raise PickleRefused(f"an array of shape {shape} ({dtype.name}) needs "
                            f"{count * dtype.itemsize:,} bytes but holds {len(data):,}")
    out = np.frombuffer(data, dtype=dtype)
    return out.reshape(shape, order="F" if fortran else "C")


def _call(func, args):
    """REDUCE: the handful of calls a NumPy array's pickle makes, done by hand."""
    if not isinstance(func, _Global) or not isinstance(args, tuple):
        raise PickleRefused("a call to something that is not a NumPy rebuilder")
    if func.name == "_reconstruct" and len(args) == 3 and isinstance(args[0], _Global) \
            and args[0].name == "numpy.ndarray":
        return _ArrayStub()
    if func.name == "numpy.dtype" and len(args) >= 1 and isinstance(args[0], (str, bytes)):
        code = args[0].decode("latin-1") if isinstance(args[0], bytes) else args[0]
        if code not in _DTYPES:
            raise PickleRefused(f"an array of dtype {code[:20]!r}")
        return _Dtype(code)
    if func.name == "_frombuffer" and len(args) == 4:
        buf, stub, shape, order = args
        return _array(shape, stub, buf, order == "F")
    if func.name == "encode" and len(args) == 2 and isinstance(args[0], str):
        return args[0].encode("latin-1")
    raise PickleRefused(f"a call to {func.name} with unexpected arguments")


def _build(obj, state):
    """BUILD: only dtypes (byte order) and the array stubs take a state."""
    if isinstance(obj, _Dtype) and isinstance(state, tuple) and len(state) >= 2:
        order = state[1].decode("latin-1") if isinstance(state[1], bytes) else state[1]
        if order not in ("|", "<", ">", "="):
            raise PickleRefused("a dtype with an unknown byte order")
        obj.order = order
        return obj
    if isinstance(obj, _ArrayStub) and isinstance(state, tuple) and len(state) == 5:
        _, shape, stub, fortran, data = state
        if isinstance(data, str):  # protocol 2 from Python 3 without _codecs: latin-1 text
            data = data.encode("latin-1")
        return _array(shape, stub, data, bool(fortran))
    raise PickleRefused("a BUILD on something that is not a NumPy array or dtype")


class _Reader:
    def __init__(self, data: bytes):
        self.mv, self.pos = memoryview(data), 0

    def take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > len(self.mv):
            raise PickleRefused("truncated (an opcode runs past the end)")
        out = self.mv[self.pos:self.pos + n]
        self.pos += n
        return out

    def uint(self, size: int) -> int:
        return int.from_bytes(self.take(size), "little")

    def line(self) -> str:
        end = bytes(self.mv[self.pos:self.pos + 256]).find(b"\n")
        if end < 0:
            raise PickleRefused("a text opcode without its line end")
        return bytes(self.take(end + 1))[:-1].decode("latin-1")


def _depth(obj, limit: int = MAX_DEPTH) -> None:
    """Containers nest at most ``limit`` deep (memo sharing cannot make a DAG blow up:
    only this check walks them, and it stops at the limit)."""
    stack = [(obj, 0)]
    while stack:
        item, d = stack.pop()
        if isinstance(item, (list, tuple, dict)):
            if d >= limit:
                raise PickleRefused(f"containers nested more than {limit} deep")
            children = item.values() if isinstance(item, dict) else item
            stack.extend((c, d + 1) for c in children if isinstance(c, (list, tuple, dict)))


class _Machine:
    """The pickle machine: a stack, marks and a memo; one method per opcode family."""

    def __init__(self, data: bytes):
        self.r = _Reader(data)
        self.stack: list = []
        self.marks: list[int] = []
        self.memo: dict[int, object] = {}
        self.result = None
        self.done = False

    # ---------------------------------------------------------------- helpers
    def pop(self):
        if not self.stack:
            raise PickleRefused("an opcode found the stack empty")
        return self.stack.pop()

    def pop_mark(self) -> list:
        if not self.marks:
            raise PickleRefused("a MARK-based opcode without a MARK")
        start = self.marks.pop()
        items = self.stack[start:]
        del self.stack[start:]
        return items

    def add_items(self, items: list) -> None:
        target = self.stack[-1] if self.stack else None
        if isinstance(target, list):
            target.extend(items)
        elif isinstance(target, dict):
            if len(items) % 2:
                raise PickleRefused("SETITEMS with an odd number of values")
            for key, value in zip(items[::2], items[1::2]):
                if not isinstance(key, (str, bytes)):
                    raise PickleRefused("a dict key that is not text")
                target[key] = value
        else:
            raise PickleRefused("items added to something that is not a list or dict")

    # ---------------------------------------------------------------- opcodes
    def proto(self, op):
        if self.r.uint(1) > 5:
            raise PickleRefused("an unknown pickle protocol")

    def frame(self, op):
        self.r.take(8)

    def stop(self, op):
        if len(self.stack) != 1 or self.marks:
            raise PickleRefused("a damaged pickle (stack left unbalanced)")
        _depth(self.stack[0])
        self.result, self.done = self.stack[0], True

    def mark(self, op):
        self.marks.append(len(self.stack))

    def empty(self, op):
        self.stack.append({0x7D: dict, 0x5D: list, 0x29: tuple}[op]())

    def tuple_mark(self, op):
        self.stack.append(tuple(self.pop_mark()))

    def tuple_n(self, op):
        n = op - 0x84
        if len(self.stack) < n:
            raise PickleRefused("a tuple opcode found too few items")
        items = tuple(self.stack[-n:])
        del self.stack[-n:]
        self.stack.append(items)

    def append(self, op):
        self.add_items([self.pop()])

    def appends(self, op):
        self.add_items(self.pop_mark())

    def setitem(self, op):
        value, key = self.pop(), self.pop()
        self.add_items([key, value])

    def integer(self, op):
        r = self.r
        if op == 0x4A:
            self.stack.append(struct.unpack("<i", r.take(4))[0])
        elif op == 0x8A:
            n = r.uint(1)
            if n > 8:
                raise PickleRefused("an integer longer than 8 bytes")
            self.stack.append(int.from_bytes(r.take(n), "little", signed=True))
        else:
            self.stack.append(r.uint(1 if op == 0x4B else 2))

    def constant(self, op):
        self.stack.append({0x4E: None, 0x88: True, 0x89: False}[op])

    def binary(self, op):
        size = self.r.uint({0x55: 1, 0x43: 1, 0x54: 4, 0x42: 4, 0x8E: 8, 0x96: 8}[op])
        data = self.r.take(size)  # big payloads stay views of the file's bytes
        self.stack.append(bytes(data) if size < 256 else data)

    def text(self, op):
        raw = self.r.take(self.r.uint({0x8C: 1, 0x58: 4, 0x8D: 8}[op]))
        try:
            self.stack.append(bytes(raw).decode("utf-8", "surrogatepass"))
        except UnicodeDecodeError:
            raise PickleRefused("text that is not UTF-8") from None

    def put(self, op):
        index = len(self.memo) if op == 0x94 else self.r.uint(1 if op == 0x71 else 4)
        if not self.stack:
            raise PickleRefused("a memo opcode found the stack empty")
        self.memo[index] = self.stack[-1]

    def get(self, op):
        index = self.r.uint(1 if op == 0x68 else 4)
        if index not in self.memo:
            raise PickleRefused("a reference to a value never stored")
        value = self.memo[index]
        if isinstance(value, (list, dict, tuple, _ArrayStub, np.ndarray)):
            raise PickleRefused("a container used twice (a real batch never shares one)")
        self.stack.append(value)

    def global_(self, op):
        if op == 0x63:
            module, name = self.r.line(), self.r.line()
        else:
            name, module = self.pop(), self.pop()
            if not (isinstance(module, str) and isinstance(name, str)):
                raise PickleRefused("a STACK_GLOBAL without names")
        if (module, name) not in _ARRAY_GLOBALS:
            raise PickleRefused(f"refused to load {module[:60]}.{name[:60]}: a CIFAR batch "
                                "only holds NumPy arrays, lists and strings")
        self.stack.append(_Global(module, name))

    def reduce(self, op):
        args = self.pop()
        self.stack.append(_call(self.pop(), args))

    def build(self, op):
        state = self.pop()
        self.stack.append(_build(self.pop(), state))


_OPS = {0x80: _Machine.proto, 0x95: _Machine.frame, 0x2E: _Machine.stop, 0x28: _Machine.mark,
        0x7D: _Machine.empty, 0x5D: _Machine.empty, 0x29: _Machine.empty,
        0x74: _Machine.tuple_mark, 0x85: _Machine.tuple_n, 0x86: _Machine.tuple_n,
        0x87: _Machine.tuple_n, 0x61: _Machine.append, 0x65: _Machine.appends,
        0x75: _Machine.appends, 0x73: _Machine.setitem,
        **dict.fromkeys((0x4A, 0x4B, 0x4D, 0x8A), _Machine.integer),
        **dict.fromkeys((0x4E, 0x88, 0x89), _Machine.constant),
        **dict.fromkeys((0x55, 0x43, 0x54, 0x42, 0x8E, 0x96), _Machine.binary),
        **dict.fromkeys((0x8C, 0x58, 0x8D), _Machine.text),
        **dict.fromkeys((0x71, 0x72, 0x94), _Machine.put),
        0x68: _Machine.get, 0x6A: _Machine.get, 0x63: _Machine.global_, 0x93: _Machine.global_,
        0x52: _Machine.reduce, 0x62: _Machine.build}


def read_cifar_pickle(data: bytes):
    """Interpret ``data`` as a CIFAR batch pickle; returns the top-level object (a dict
    for a real batch; checking its content is the caller's job)."""
    machine = _Machine(data)
    for _ in range(MAX_OPS):
        op = machine.r.take(1)[0]
        handler = _OPS.get(op)
        if handler is None:
            raise PickleRefused(f"opcode 0x{op:02x} at byte {machine.r.pos - 1} is not one a "
                                "CIFAR batch uses")
        handler(machine, op)
        if machine.done:
            return machine.result
    raise PickleRefused(f"more than {MAX_OPS:,} opcodes; a CIFAR batch needs far fewer")
