"""The seed's command line for the platform import: same as ``lookout import-platform``."""

from lookout.platform_import.cli import main

if __name__ == "__main__":
    main(prog_name="python -m scripts.data_transfer.ingestion.platform.import")
