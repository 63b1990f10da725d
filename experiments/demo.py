r"""`make demo`: a short simulated time-lapse of every scene preset and a contact sheet.

  python launch.py --config experiments/demo.py --workdir workdir/demo

Writes <workdir>/<preset>/... (see experiments/simulate.py) and <workdir>/contact_sheet.png
with visible masks, amodal outlines, keypoints by visibility state and 3D wireframes drawn over
frames from day, dusk and night bursts. Runs in about a minute on 2 cores.
"""

from experiments import simulate


def get_config(arg: str | None = None):
  config = simulate.get_config(arg)
  config.job = "demo"
  config.num_bursts = 3
  config.frames_per_burst = 6
  config.num_days = 1
  config.write_video = True
  config.contact_sheet_columns = 3
  return config
