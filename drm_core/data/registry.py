"""Open a dataset by name from a config entry: synthetic | muco | mupots | panoptic | coco | real."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from torch.utils.data import Dataset

from drm_core.data.errors import DatasetError

KNOWN_DATASETS = ("synthetic", "muco", "mupots", "panoptic", "coco", "real")


@dataclass
class DatasetSpec:
    """A dataset in a config: its name, annotation file and image root (none for synthetic) and the
    reader's keyword options (synthetic: `length` plus SyntheticConfig fields; panoptic: `split`;
    coco: `keep_empty`)."""

    name: str
    annotations: str | None = None
    image_root: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, spec: Mapping[str, Any]) -> "DatasetSpec":
        """{name, annotations, image_root, ...}: keys other than these three become options."""
        if "name" not in spec:
            raise DatasetError(f"dataset spec {dict(spec)!r} has no 'name'; known: {', '.join(KNOWN_DATASETS)}")
        rest = {k: v for k, v in spec.items() if k not in ("name", "annotations", "image_root")}
        return cls(str(spec["name"]), spec.get("annotations"), spec.get("image_root"),
                   {**rest.pop("options", {}), **rest})


def _paths(spec: DatasetSpec) -> tuple[str, str]:
    if not spec.annotations or not spec.image_root:
        raise DatasetError(f"dataset {spec.name!r} needs both 'annotations' (json file) and 'image_root'")
    return spec.annotations, spec.image_root


def _build(name: str, factory: Callable[..., Dataset], *args: Any, **options: Any) -> Dataset:
    """factory(*args, **options), with an unknown option reported as a DatasetError naming the dataset."""
    try:
        return factory(*args, **options)
    except TypeError as e:
        if "unexpected keyword argument" in str(e):
            raise DatasetError(f"dataset {name!r}: unknown option ({e})") from None
        raise


def open_dataset(spec: DatasetSpec | Mapping[str, Any]) -> Dataset:
    """The reader for `spec`; DatasetError for an unknown name (listing the known ones) or missing paths."""
    if not isinstance(spec, DatasetSpec):
        spec = DatasetSpec.from_mapping(spec)
    name = spec.name.lower()
    if name == "synthetic":  # imported here: the generator pulls in rendering code the readers do not need
        from drm_core.data.synthetic import SyntheticConfig, SyntheticDataset
        options = dict(spec.options)
        length = int(options.pop("length", 1000))
        return SyntheticDataset(_build(name, SyntheticConfig, **options), length)
    if name == "muco":
        from drm_core.data.muco import MuCoDataset
        return _build(name, MuCoDataset, *_paths(spec), **spec.options)
    if name == "mupots":
        from drm_core.data.mupots import MuPoTSDataset
        return _build(name, MuPoTSDataset, *_paths(spec), **spec.options)
    if name == "panoptic":
        from drm_core.data.panoptic import PanopticDataset
        return _build(name, PanopticDataset, *_paths(spec), **spec.options)
    if name == "coco":
        from drm_core.data.coco import CocoDataset
        return _build(name, CocoDataset, *_paths(spec), **spec.options)
    if name == "real":  # pseudo-labelled real footage (drm_core.real_data.build)
        from drm_core.data.real_footage import RealFootageDataset
        return _build(name, RealFootageDataset, *_paths(spec), **spec.options)
    raise DatasetError(f"unknown dataset {spec.name!r}; known datasets: {', '.join(KNOWN_DATASETS)}")
