"""The click redirect service (`/r/<code>`): part of `loa serve`, also runnable alone."""
