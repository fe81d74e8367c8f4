"""Images: stored pictures, their thumbnails and metadata."""
