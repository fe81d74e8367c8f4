"""A project's image classes and the image-level labels people give with them."""
