"""Training and evaluation of Lite-HRNet on COCO-format keypoint data.

Where things are: :mod:`.dataset` (COCO keypoint files, the top-down training
samples), :mod:`.transforms` (the official random augmentation), :mod:`.evaluate`
(COCO AP/AR and PCK of a :class:`~lite_hrnet.pipeline.PoseEstimator`), :mod:`.engine`
(the training loop; the only module that needs torch) and :mod:`.cli` (the
``train``, ``eval`` and ``synth`` verbs). Importing this package imports none of them.

The toolkit's demo model is the registered ``litehrnet_18_coco_128x96`` with
``weights="synthetic"`` (its checkpoint ships in ``lite_hrnet/assets``).
"""
