#!/usr/bin/env python3
"""Make every golden file: runs each tests/golden/gen_*.py (one per op family). Needs PyTorch (Debian's
python3-torch: run with /usr/bin/python3). The outputs in tests/golden/data/ are committed, so CI needs no
PyTorch. Usage: make_golden.py [family ...]"""
import glob
import importlib.util
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

torch.use_deterministic_algorithms(True)
wanted = set(sys.argv[1:])
for path in sorted(glob.glob(os.path.join(HERE, "gen_*.py"))):
    family = os.path.basename(path)[4:-3]
    if wanted and family not in wanted:
        continue
    spec = importlib.util.spec_from_file_location("gen_" + family, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.generate()
    print("made", family)
