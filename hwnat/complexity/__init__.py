"""MACs and params of subnets: analytic per arch, vectorised over NAT genomes, and counted by forward hooks.

Convention (that of NAT's published counts), per image of one forward pass:
- MACs: a Conv2d counts out_h · out_w · cout · (cin / groups) · kh · kw; a Linear counts in · out (per
  output row). Nothing else is counted: batch norm, activations, pooling, additions (residual, dense skips,
  parallel branches) and squeeze-excitation's channel multiply are free.
- Params: every parameter of the module: convolution weights (and SE biases), batch-norm affine weight and
  bias, linear weight and bias. Running statistics are buffers, not parameters.
Stages after an early exit count nothing; the subnet's head is that exit's head.
"""

from hwnat.complexity.analytic import complexity
from hwnat.complexity.counts import Complexity
from hwnat.complexity.hooks import count_module
from hwnat.complexity.vectorised import complexity_many

__all__ = ["Complexity", "complexity", "complexity_many", "count_module"]
