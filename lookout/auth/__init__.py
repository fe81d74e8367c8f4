"""Who is calling: proxy headers, API keys, local mode and pipeline signatures."""
