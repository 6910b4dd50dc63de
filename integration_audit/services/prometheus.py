"""Rendering of metric families in the Prometheus text exposition format.

Format version 0.0.4: per family one ``# HELP`` and one ``# TYPE`` line, then
one line per sample, ``name{label="value",...} number``. Label values escape
backslash, double quote and line feed; help text escapes backslash and line
feed (https://prometheus.io/docs/instrumenting/exposition_formats/).
"""

import math
from dataclasses import dataclass, field

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class Family:
    """One metric: its name, type (gauge, counter, summary...), help and samples.

    Each sample is ``(suffix, labels, value)``; the suffix is appended to
    the family name (``""``, ``"_sum"``, ``"_count"``).
    """

    name: str
    type: str
    help: str
    samples: list = field(default_factory=list)

    def add(self, value, suffix="", **labels):
        """Append one sample with the given labels."""
        self.samples.append((suffix, labels, value))


def _escape_label(value):
    text = "" if value is None else str(value)
    return text.replace("\\", r"\\").replace('"', r"\"").replace("\n", r"\n")


def _format_value(value):
    if value is None:
        return "NaN"
    number = float(value)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    if number.is_integer() and abs(number) < 2**53:
        return str(int(number))
    return repr(number)


def _format_sample(name, suffix, labels, value):
    if labels:
        pairs = ",".join(
            f'{key}="{_escape_label(item)}"' for key, item in labels.items()
        )
        return f"{name}{suffix}{{{pairs}}} {_format_value(value)}"
    return f"{name}{suffix} {_format_value(value)}"


def render(families):
    """Return the exposition text of `families`, ending with a line feed."""
    lines = []
    for family in families:
        help_text = family.help.replace("\\", r"\\").replace("\n", r"\n")
        lines.append(f"# HELP {family.name} {help_text}")
        lines.append(f"# TYPE {family.name} {family.type}")
        lines.extend(
            _format_sample(family.name, suffix, labels, value)
            for suffix, labels, value in family.samples
        )
    return "\n".join(lines) + "\n"
