"""`python -m hwnat` (and `torchrun -m hwnat`): the hwnat command line."""

from hwnat.cli.main import cli

if __name__ == "__main__":
    cli(prog_name="hwnat")
