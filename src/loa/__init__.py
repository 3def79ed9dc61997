"""Loa: self-hosted customer messaging for businesses in Vietnam."""

import os

# Polars allocates through jemalloc, which by default keeps freed pages for seconds; a million
# -row import then holds several hundred MB it no longer uses. A background thread returning
# them within 100 ms keeps the peak near what is live, at no measurable cost in speed. Set
# before Polars is first imported; a value the user set wins.
os.environ.setdefault(
    "_RJEM_MALLOC_CONF", "background_thread:true,dirty_decay_ms:100,muzzy_decay_ms:0"
)

__version__ = "0.1.0"
