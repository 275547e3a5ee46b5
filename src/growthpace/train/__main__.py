"""``python -m growthpace.train --job job.json --metrics metrics.json``: one process of a launched cell."""

from .launch import worker_main

worker_main()
