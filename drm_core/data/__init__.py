"""Dataset readers, augmentation and batch mixing for training and evaluation."""
