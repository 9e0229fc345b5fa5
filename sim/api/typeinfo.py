"""`Types`: PyFlink's type information, accepted everywhere and used for key hashing.

Layer: `sim.api` (no SimPy). A `TypeInformation` matters where Flink uses it:
a key's Java `hashCode`, which decides its key group and so its subtask. An
`int` key declared `Types.LONG()` hashes as a Java Long, not an Integer; a
`float` declared `Types.FLOAT()` hashes as a Java float. Without a declared
type, a key hashes by its Python type (see `sim.kernel.hashing.java_hash_code`).
"""

from __future__ import annotations

import struct
from typing import Any

from sim.kernel.hashing import java_hash_code

_INT_MIN, _INT_MAX = -(1 << 31), (1 << 31) - 1


def _to_int32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


class TypeInformation:
    """A named type. `java_hash(value)` is the Java `hashCode` of a value of this type."""

    def __init__(self, name: str, fields: tuple[TypeInformation, ...] = (), names: tuple[str, ...] = ()):
        self.name = name
        self.fields = fields
        self.field_names = names

    def java_hash(self, value: Any) -> int:
        """Java `hashCode` of `value` read as this type."""
        return java_hash_code(value)

    def __repr__(self) -> str:
        inner = ", ".join(repr(f) for f in self.fields)
        return f"{self.name}({inner})" if self.fields else self.name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TypeInformation) and repr(self) == repr(other)

    def __hash__(self) -> int:
        return hash(repr(self))


class _IntType(TypeInformation):
    def java_hash(self, value: Any) -> int:
        if type(value) is not int or not _INT_MIN <= value <= _INT_MAX:
            raise TypeError(f"a key of type {self.name} must be an int in 32-bit range, got {value!r}")
        return value


class _LongType(TypeInformation):
    def java_hash(self, value: Any) -> int:
        if type(value) is not int or not -(1 << 63) <= value < (1 << 63):
            raise TypeError(f"a key of type {self.name} must be an int in 64-bit range, got {value!r}")
        bits = value & 0xFFFFFFFFFFFFFFFF
        return _to_int32(bits ^ (bits >> 32))


class _FloatType(TypeInformation):
    def java_hash(self, value: Any) -> int:
        if value != value:  # Java canonical NaN
            return 0x7FC00000
        return struct.unpack(">i", struct.pack(">f", float(value)))[0]


class _TupleType(TypeInformation):
    def java_hash(self, value: Any) -> int:
        if not isinstance(value, (tuple, list)) or len(value) != len(self.fields):
            raise TypeError(f"a key of type {self!r} must be a tuple of {len(self.fields)} fields, got {value!r}")
        h = 0
        for field_type, field in zip(self.fields, value):
            h = _to_int32(31 * h + (0 if field is None else field_type.java_hash(field)))
        return h


class Types:
    """Factory of type information with PyFlink's names."""

    @staticmethod
    def STRING() -> TypeInformation:
        return TypeInformation("STRING")

    @staticmethod
    def BOOLEAN() -> TypeInformation:
        return TypeInformation("BOOLEAN")

    @staticmethod
    def BYTE() -> TypeInformation:
        return _IntType("BYTE")

    @staticmethod
    def SHORT() -> TypeInformation:
        return _IntType("SHORT")

    @staticmethod
    def INT() -> TypeInformation:
        return _IntType("INT")

    @staticmethod
    def LONG() -> TypeInformation:
        return _LongType("LONG")

    @staticmethod
    def FLOAT() -> TypeInformation:
        return _FloatType("FLOAT")

    @staticmethod
    def DOUBLE() -> TypeInformation:
        return TypeInformation("DOUBLE")

    @staticmethod
    def BIG_INT() -> TypeInformation:
        return _LongType("BIG_INT")

    @staticmethod
    def PICKLED_BYTE_ARRAY() -> TypeInformation:
        return TypeInformation("PICKLED_BYTE_ARRAY")

    @staticmethod
    def TUPLE(field_types: list[TypeInformation]) -> TypeInformation:
        return _TupleType("TUPLE", tuple(field_types))

    @staticmethod
    def ROW(field_types: list[TypeInformation]) -> TypeInformation:
        """A row. Simplified: as a key it hashes like a Flink tuple of its fields."""
        return _TupleType("ROW", tuple(field_types))

    @staticmethod
    def ROW_NAMED(field_names: list[str], field_types: list[TypeInformation]) -> TypeInformation:
        return _TupleType("ROW_NAMED", tuple(field_types), tuple(field_names))

    @staticmethod
    def LIST(element_type: TypeInformation) -> TypeInformation:
        return TypeInformation("LIST", (element_type,))

    @staticmethod
    def MAP(key_type: TypeInformation, value_type: TypeInformation) -> TypeInformation:
        return TypeInformation("MAP", (key_type, value_type))

    @staticmethod
    def PRIMITIVE_ARRAY(element_type: TypeInformation) -> TypeInformation:
        return TypeInformation("PRIMITIVE_ARRAY", (element_type,))

    @staticmethod
    def OBJECT_ARRAY(element_type: TypeInformation) -> TypeInformation:
        return TypeInformation("OBJECT_ARRAY", (element_type,))
