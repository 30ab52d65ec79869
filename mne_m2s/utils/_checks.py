"""Argument validation helpers (MNE ``utils/check.py`` style).

Errors name the parameter, what was expected, what was received and, where it
helps, a likely intended value.
"""

import difflib
import numbers

import numpy as np


def _suggest(value, allowed):
    if not isinstance(value, str):
        return ""
    close = difflib.get_close_matches(value, [str(a) for a in allowed], n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def check_option(name, value, allowed):
    """Raise a ValueError unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        allowed_txt = ", ".join(repr(a) for a in allowed)
        raise ValueError(
            f"Invalid value for the {name!r} parameter. Allowed values are {allowed_txt}, "
            f"but got {value!r} instead.{_suggest(value, allowed)}"
        )
    return value


def check_type(name, value, types, type_name=None):
    """Raise a TypeError unless ``value`` is an instance of ``types``."""
    if not isinstance(value, types):
        if type_name is None:
            types_t = types if isinstance(types, tuple) else (types,)
            type_name = " or ".join(t.__name__ if t is not type(None) else "None" for t in types_t)
        raise TypeError(
            f"{name} must be an instance of {type_name}, got {type(value).__name__} instead."
        )
    return value


def check_int(name, value, min_value=None, allow_none=False):
    """Validate an integer parameter (``bool`` is rejected)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r} ({type(value).__name__}).")
    if min_value is not None and value < min_value:
        raise ValueError(f"{name} must be >= {min_value}, got {value}.")
    return int(value)


def check_float(name, value, min_value=None, max_value=None, inclusive=True, allow_none=False):
    """Validate a real-valued parameter."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a float, got {value!r} ({type(value).__name__}).")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}.")
    lo_bad = min_value is not None and (value < min_value if inclusive else value <= min_value)
    hi_bad = max_value is not None and (value > max_value if inclusive else value >= max_value)
    if lo_bad or hi_bad:
        op = ("<=", ">=") if inclusive else ("<", ">")
        bounds = []
        if min_value is not None:
            bounds.append(f"{op[1]} {min_value}")
        if max_value is not None:
            bounds.append(f"{op[0]} {max_value}")
        raise ValueError(f"{name} must be {' and '.join(bounds)}, got {value}.")
    return value


def check_random_state_seed(random_state):
    """Turn ``random_state`` into an int seed without touching global state.

    ``None`` draws fresh entropy (a new, local generator); an int is used as is;
    a :class:`numpy.random.RandomState` or :class:`numpy.random.Generator`
    draws one integer from itself.
    """
    if random_state is None:
        return int(np.random.default_rng().integers(0, 2**31 - 1))
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state must be a non-negative int, got {random_state}.")
        return int(random_state) % (2**63 - 1)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**31 - 1))
    raise TypeError(
        "random_state must be None, an int, a numpy RandomState or a numpy Generator, "
        f"got {type(random_state).__name__}."
    )
