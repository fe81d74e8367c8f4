"""`python -m lookout.fake_annotator [port]`: the demo data on loopback."""

import sys

from lookout.fake_annotator.server import main

main(port=int(sys.argv[1]) if len(sys.argv) > 1 else 8788)
