"""Projects: collections of images owned by a group."""
