"""Text shown by `snakemake --report` as written: captions escaped for reStructuredText."""

from __future__ import annotations

import re

# Characters that start inline markup in reStructuredText: |substitution|, *emphasis*, `literal`,
# _target, [citation], and the backslash itself.
SPECIAL = re.compile(r"([\\|*`_\[\]<>])")


def escape(text: str) -> str:
    """`text` on one line with every inline-markup character backslash-escaped, so docutils shows
    it as written (a caption's `mean |gradient|` is no substitution)."""
    return SPECIAL.sub(r"\\\1", " ".join(text.split()))
