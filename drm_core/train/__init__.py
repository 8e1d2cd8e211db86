"""Training: one config file per experiment, one command line, single GPU, CPU or torchrun multi-GPU."""
