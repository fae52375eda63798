"""Search spaces, architectures, NAT genomes and subnet files."""

from hwnat.space.arch import Arch, max_arch, mid_arch, min_arch
from hwnat.space.genome import arch_id, canonicalise, decode, encode, gene_bounds, parse_arch_id
from hwnat.space.presets import get_space, list_spaces, register_space
from hwnat.space.sampling import sample_arch, sample_archs
from hwnat.space.spec import (
    BRANCH_MASKS,
    BRANCH_MBCONV,
    BRANCH_POINTWISE,
    BRANCH_POOL,
    SearchSpace,
    StageSpec,
    Variant,
    make_divisible,
)
from hwnat.space.subnet_file import arch_from_subnet, read_subnet, subnet_from_arch, write_subnet

__all__ = [
    "Arch", "BRANCH_MASKS", "BRANCH_MBCONV", "BRANCH_POINTWISE", "BRANCH_POOL", "SearchSpace", "StageSpec",
    "Variant", "arch_from_subnet", "arch_id", "canonicalise", "decode", "encode", "gene_bounds", "get_space",
    "list_spaces", "make_divisible", "max_arch", "mid_arch", "min_arch", "parse_arch_id", "read_subnet",
    "register_space", "sample_arch", "sample_archs", "subnet_from_arch", "write_subnet",
]
