"""The OFAv2 super-network: elastic layers, the MobileNetV3 supernet, extraction, BN recalibration, OFA weights."""

from hwnat.supernet.bn_calibration import recalibrate_bn
from hwnat.supernet.checkpoint import OFA_SUPERNETS, load_supernet_weights, ofa_supernet, read_state_dict
from hwnat.supernet.extract import extract
from hwnat.supernet.ofa_mbv3 import DynamicBlock, OFAMobileNetV3

__all__ = [
    "DynamicBlock", "OFAMobileNetV3", "OFA_SUPERNETS", "extract", "load_supernet_weights", "ofa_supernet",
    "read_state_dict", "recalibrate_bn",
]
