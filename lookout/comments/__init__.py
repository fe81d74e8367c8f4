"""Comments people leave on images and on sequences."""
