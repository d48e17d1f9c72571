"""nngraph.nn.modules: the layer catalogue."""
