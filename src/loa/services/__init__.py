"""Use cases that combine domain rules and the store: import, segments, planning, dispatch."""
