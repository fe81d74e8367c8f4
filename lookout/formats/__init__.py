"""Dataset formats, one module each with its reader and its writer.

`coco`, `yolo` (read and write), `voc`, `csv_table` and `jsonl` (write). `dataset` holds what
readers return and the checks they share, `writing` what writers share (the item they get, the
`Sink` they write to), `registry` picks a reader or a writer by format name.
"""
