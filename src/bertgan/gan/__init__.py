"""GAN (Goodfellow et al. 2014; seed 001): G(z; θ), D(x; η), the minimax game and its training."""
