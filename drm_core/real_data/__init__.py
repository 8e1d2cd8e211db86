"""The real-data build: fetch pinned footage packages, drop repeated frames, label people with a teacher in an
environment of its own, triangulate calibrated views into metric 3D, and write the data set that
`drm_core.data.real_footage` reads (`python -m drm_core.real_data.build`)."""
