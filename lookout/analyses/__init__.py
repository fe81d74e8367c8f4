"""ML analyses of images: predictions, artifacts and the pipeline callback API."""
