"""Mining stage: time-lapse frames and detections in, tracked unoccluded objects out.

Modules: `types` (Frame, FrameDetections), `frames` (video / image-folder readers and sampling),
`detections` (COCO results JSON in and out), `bank` (the per-camera object bank, HDF5), and the
detector, tracker and occlusion tests of the other stages. Import the module you need.
"""
