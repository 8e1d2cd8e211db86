"""Evaluation with the benchmarks' own metric definitions (MuPoTS-3D 3DPCK/AUC, CMU Panoptic RtError/MPJPE)."""
from drm_core.evaluation.evaluate import collect_records, evaluate, evaluate_panoptic_dataset, record_of
from drm_core.evaluation.mupots import (SCORINGS, FrameRecord, MuPoTSResult, PCKSet, evaluate_mupots,
                                        mpi15_to_mupots17, rescale_to_gt_bones)
from drm_core.evaluation.panoptic import PanopticResult, evaluate_panoptic
from drm_core.evaluation.report import write_report

__all__ = ["SCORINGS", "FrameRecord", "MuPoTSResult", "PCKSet", "PanopticResult", "collect_records", "evaluate",
           "evaluate_mupots", "evaluate_panoptic", "evaluate_panoptic_dataset", "mpi15_to_mupots17", "record_of",
           "rescale_to_gt_bones", "write_report"]
