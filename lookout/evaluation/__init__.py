"""Models against reviewed truth: matching, precision/recall, AP, sequence catch rate."""
