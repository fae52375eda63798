"""Static networks: the NetConfig of a subnet and the plain MobileNetV3 built from it."""

from hwnat.models.config import BlockConfig, HeadConfig, NetConfig, conv_out, net_config
from hwnat.models.mobilenetv3 import MobileNetV3, build_static

__all__ = ["BlockConfig", "HeadConfig", "MobileNetV3", "NetConfig", "build_static", "conv_out", "net_config"]
