"""IC Studio's ML library: SageMaker Image Classification (MXNet) formats, training and inference.

The data-format modules (recordio, lst, pack, hyperparameters, artifacts' reading side) import no
MXNet, so the web process can use them; networks, data, training and inference do.
"""
