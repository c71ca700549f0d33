"""Training our own generators (torch): the emoji dataset, a StyleGAN2 discriminator, DiffAugment with
an adaptive strength, and a resumable training loop. Never imported by the serving path."""
