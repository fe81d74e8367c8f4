"""Camera sequences: time-ordered frames of one camera and their reviews."""
