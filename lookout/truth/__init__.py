"""Reviewed truth and a model's boxes, read from a project.

What exports write and evaluations judge.

`selection` names which frames and boxes to take (a user's choice, checked); `reading` reads
them a sequence at a time as `Frame`s. Exports and evaluation both read through here, so
neither imports the other.
"""
