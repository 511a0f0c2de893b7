"""Speed and memory of Studio against PyTorch CPU and a hand-written numpy limit."""
