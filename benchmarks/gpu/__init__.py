"""The prepared GPU benchmark (run.sh): latency, top-down baseline, training throughput, CUDA tests."""
