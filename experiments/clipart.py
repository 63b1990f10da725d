r"""Build the clip-art dataset, TFDS `walt3d_clipart` (WALT3D section 4, "Clip-art compositing").

Composites the objects of one camera's object bank (mined, 3D-fitted) into its background with
non-intersecting footprints and a per-pixel depth test (walt3d) or WALT's 2D paste (walt2d), and writes the
examples with exact amodal labels as TFDS (docs/formats.md, "Clip-art dataset"):

  python launch.py --config experiments/clipart.py --workdir /tmp/clipart
  python launch.py --config experiments/clipart.py --workdir /tmp/clipart \
      --config.bank=/data/cam7/bank.h5 --config.dataset=walt2d_640x360
  python launch.py --config experiments/clipart.py:tiny --workdir /tmp/clipart_tiny

By default the bank is a finished `fit` run's under the workdir (<workdir>/demo/fit or
<workdir>/fit), else the fit job runs first into <workdir>/fit (experiments/fit.py: mine + fit
of a simulated intersection, about a minute on 2 CPU cores). Writes <workdir>/tfds/<format>/
(array_record for tfds.data_source and grain; tfrecord for tfds.load), optionally
<workdir>/coco/<split>/ (COCO-amodal export, --config.coco_export=True), and summary.json
(examples per split, examples/s per format, the pool's objects and skipped objects by reason).

`tiny` builds tiny_walt3d (3 train / 2 test at 160x90) from a simulated sequence's truly
unoccluded objects (`clipart.truth_bank`, no fitting) in both formats plus the COCO export: about
15 s on 2 CPU cores, most of it simulating and importing.
"""

import ml_collections

from experiments import fit as fit_config
from experiments import simulate as simulate_config


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.job = "clipart"
  config.progress = True

  config.dataset = "walt3d_320x180"  # a walt3d_clipart BuilderConfig (tfds_builders/walt3d_clipart)
  config.num_train = 1000  # examples per split; -1: the named config's own count
  config.num_test = 200
  # Overrides of walt3d_jax.clipart.config.ClipartConfig (other than mode and image_size, which
  # the dataset config names), e.g. objects_per_image=(4, 10).
  config.clipart = ml_collections.ConfigDict()
  config.formats = ("array_record", "tfrecord")  # one TFDS build each, own data dir
  config.coco_export = False  # also write COCO-amodal JSON + PNGs of coco_splits
  config.coco_splits = ("test",)

  config.bank = ""  # any object bank (bank.h5); "": from bank_source
  config.bank_source = "fit"  # 'fit': a fitted bank under the workdir, else run fit; 'truth'
  config.fit = fit_config.get_config()
  config.simulate = simulate_config.get_config("avenue")  # for bank_source='truth'
  config.simulate.progress = False

  if arg == "tiny":
    config.dataset = "tiny_walt3d"
    config.num_train = config.num_test = -1
    config.bank_source = "truth"
    config.simulate.num_bursts, config.simulate.frames_per_burst = 2, 3
    config.simulate.image_size = (160, 90)
    config.coco_export = True
  elif arg:
    raise ValueError(f"experiments/clipart.py: unknown argument {arg!r}; known: tiny")
  return config
