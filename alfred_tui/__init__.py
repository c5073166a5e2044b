"""alfred's terminal app."""
