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

Beam (any runner, through TFDS's Beam support; the same examples, byte for byte, as the local
build): --config.beam_pipeline_options='FLAGS' with Beam's command-line flags, e.g.
  local, 2 processes: '--runner=DirectRunner --direct_num_workers=2 --direct_running_mode=multi_processing'
  Dataflow: '--runner=DataflowRunner --project=P --region=R --temp_location=gs://B/tmp
             --extra_package=dist/walt3d_jax-0.1.0-py3-none-any.whl --requirements_file=requirements.txt'
             (the wheel from `pip wheel --no-deps -w dist .`), --workdir and --config.bank on gs://
  Flink: '--runner=FlinkRunner --flink_master=HOST:8081 --environment_type=LOOPBACK';
  Spark: '--runner=SparkRunner --spark_master_url=spark://HOST:7077'
Workers need walt3d_jax and tfds_builders installed and the bank and workdir readable; each
worker loads the bank's pool once. benchmarks/build_beam.py measures DirectRunner against the
local build.

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
  # Beam flags ("--runner=DirectRunner --direct_num_workers=2 ..."): build on that Beam runner;
  # "": the local build (one process, no Beam).
  config.beam_pipeline_options = ""

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
