"""The measurement library behind ``nngraph bench`` and ``bench/suite.py``.

``engines`` builds the engines to compare (nngraph compiled/eager, PyTorch eager, ONNX Runtime), ``timing`` times
them interleaved, ``coldstart`` measures compile times in fresh processes, ``machine`` describes the machine,
``report``/``plot`` present the results and ``progress`` reports progress on stderr.
"""
