"""Run a prediction function over a dataset of Samples and score it with the benchmarks' metrics."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
from tqdm import tqdm

from drm_core.evaluation.mupots import PRED15_RULE, FrameRecord, MuPoTSResult, evaluate_mupots, mpi15_to_mupots17
from drm_core.evaluation.panoptic import PanopticResult, evaluate_panoptic
from drm_core.skeleton import MPI15, MUPOTS17
from drm_core.pose_types import Sample

# predict_fn(sample) returns an object with joints_cam_m (P, J, 3) and joints_uv_px (P, J, 2), e.g. Poses3D,
# with joints_uv_px in the pixels of sample.image.
PredictFn = Callable[[Sample], Any]


def _require_3d(sample: Sample) -> str:
    """A description of the sample for messages; raises if it has no 3D ground truth."""
    where = f"sample {sample.image_id!r} of dataset {sample.dataset!r}"
    if not sample.has_3d:
        raise ValueError(f"{where} has no 3D ground truth (joints_3d_m is None); 3D metrics need it")
    return where


def _prediction_in_mupots17(prediction: Any, where: str) -> tuple[np.ndarray, np.ndarray, str]:
    """The prediction's 3D and 2D in MuPoTS' 17 joints and how they got there (PRED15_RULE for MPI15)."""
    cam, uv = np.asarray(prediction.joints_cam_m), np.asarray(prediction.joints_uv_px)
    if cam.ndim == 3 and cam.shape[1] == MUPOTS17.num_joints:
        return cam, uv, "predicted in the dataset's 17 joints."
    if cam.ndim == 3 and cam.shape[1] == MPI15.num_joints:
        return mpi15_to_mupots17(cam), mpi15_to_mupots17(uv), PRED15_RULE
    raise ValueError(f"the prediction for {where} has joints_cam_m of shape {cam.shape}; MuPoTS scoring takes "
                     f"(people, {MPI15.num_joints} MPI15 or {MUPOTS17.num_joints} MuPoTS joints, 3)")


def record_of(sample: Sample, prediction: Any) -> FrameRecord:
    """The FrameRecord of one sample and its prediction.

    The sequence is sample.meta["sequence"] (default "all"). Valid ground-truth people are
    sample.meta["gt_valid"] when a reader gives it (MuPoTS' is_valid), else those whose pelvis is labelled;
    a joint counts as labelled where sample.visibility > 0. A sample with the dataset's own 17 joints in its
    meta (the MuPoTS reader: joints_3d_mm_17, joints_2d_px_17) gives a 17-joint record scored on those, with
    MPI15 predictions brought to 17 joints by PRED15_RULE; any other sample gives an MPI15 record.
    """
    where = _require_3d(sample)
    for name in ("joints_cam_m", "joints_uv_px"):
        if not hasattr(prediction, name):
            raise TypeError(f"the prediction for {where} has no attribute {name!r} "
                            f"(got {type(prediction).__name__})")
    visibility = np.asarray(sample.visibility)
    gt_valid = sample.meta.get("gt_valid")
    if gt_valid is None:
        gt_valid = visibility[:, MPI15.root] > 0 if visibility.size else np.zeros(0, bool)
    sequence = str(sample.meta.get("sequence", "all"))
    if "joints_3d_mm_17" in sample.meta:
        pred_cam, pred_uv, pred_source = _prediction_in_mupots17(prediction, where)
        return FrameRecord(sequence=sequence, pred_cam_m=pred_cam, pred_uv_px=pred_uv,
                           gt_cam_m=np.asarray(sample.meta["joints_3d_mm_17"]) / 1000.0,
                           gt_uv_px=sample.meta["joints_2d_px_17"], gt_valid=gt_valid, image_id=sample.image_id,
                           skeleton=MUPOTS17, gt_source=str(sample.meta.get("gt_3d_source", "")),
                           pred_source=pred_source)
    return FrameRecord(sequence=sequence, pred_cam_m=prediction.joints_cam_m, pred_uv_px=prediction.joints_uv_px,
                       gt_cam_m=sample.joints_3d_m, gt_uv_px=sample.joints_2d_px, gt_valid=gt_valid,
                       gt_joint_mask=visibility > 0, image_id=sample.image_id)


def _samples(dataset: Iterable[Sample] | Any) -> Iterator[Sample]:
    """Indexable datasets (torch style) by index, anything else by iteration."""
    if hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__"):
        return (dataset[i] for i in range(len(dataset)))
    return iter(dataset)


def collect_records(predict_fn: PredictFn, dataset: Iterable[Sample] | Any, max_samples: int | None = None,
                    progress: bool = True) -> list[FrameRecord]:
    """Predict every sample (at most `max_samples`) and pair the predictions with the ground truth."""
    total = len(dataset) if hasattr(dataset, "__len__") else None
    if max_samples is not None:
        total = max_samples if total is None else min(total, max_samples)
    records = []
    for i, sample in enumerate(tqdm(_samples(dataset), total=total, desc="evaluate", disable=not progress)):
        if max_samples is not None and i >= max_samples:
            break
        _require_3d(sample)  # before spending a prediction on it
        records.append(record_of(sample, predict_fn(sample)))
    return records


def evaluate(predict_fn: PredictFn, dataset: Iterable[Sample] | Any, scoring: str | None = None,
             max_samples: int | None = None, progress: bool = True) -> MuPoTSResult:
    """MuPoTS-style 3DPCK / AUC of `predict_fn` over `dataset`; scoring as evaluate_mupots (None: official
    for MuPoTS samples, SMAP's 15-joint variant for MPI15 ones)."""
    return evaluate_mupots(collect_records(predict_fn, dataset, max_samples, progress), scoring=scoring)


def evaluate_panoptic_dataset(predict_fn: PredictFn, dataset: Iterable[Sample] | Any,
                              max_samples: int | None = None, progress: bool = True) -> PanopticResult:
    """CMU Panoptic RtError / MPJPE of `predict_fn` over `dataset` (sequence names give the activities)."""
    return evaluate_panoptic(collect_records(predict_fn, dataset, max_samples, progress))
