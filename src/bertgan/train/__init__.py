"""Training machinery shared by BERT and GAN: device and precision, checkpoints, interruption. Knows nothing
about either model."""
