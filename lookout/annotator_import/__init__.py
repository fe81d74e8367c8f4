"""`lookout import-annotations pyro-annotator`: a pyro-annotator server's sequences, frames and
human annotations brought into Lookout (reviews with decided tracks, who and when).

`client` reads pyro-annotator's API, `shapes` validates its answers, `mapping` turns them into
Lookout's review tracks (pure), `importer` writes them through Lookout's services and `cli` is
the command.
"""
