"""Imports every table so metadata is complete (Alembic and create_all use this)."""

from lookout.accounts.models import ApiKey, Group, Membership, User
from lookout.analyses.models import Analysis, Artifact, IdempotencyRecord, Prediction
from lookout.auth.models import SeenSignature
from lookout.classes.models import ImageClass, ImageClassification
from lookout.comments.models import Comment
from lookout.db import Base
from lookout.evaluation.models import EvaluationOutcome, EvaluationRun  # noqa: F401
from lookout.grouping.models import GroupMember, SequenceGroup
from lookout.images.models import Image, ImageDeletionEvent
from lookout.projects.models import Project, ProjectMetadata
from lookout.reviewing.models import ReviewClaim, ReviewSkip
from lookout.scoring.models import QueueScore
from lookout.sequences.models import Camera, ReviewVersion, Sequence, SequenceReview
from lookout.storage.models import LeftoverObject

__all__ = [
    "ApiKey",
    "Analysis",
    "Artifact",
    "Base",
    "Camera",
    "Comment",
    "Group",
    "GroupMember",
    "IdempotencyRecord",
    "Image",
    "ImageClass",
    "ImageDeletionEvent",
    "ImageClassification",
    "LeftoverObject",
    "Membership",
    "Prediction",
    "Project",
    "QueueScore",
    "ProjectMetadata",
    "ReviewClaim",
    "ReviewSkip",
    "ReviewVersion",
    "SeenSignature",
    "Sequence",
    "SequenceGroup",
    "SequenceReview",
    "User",
]
