"""Families: kernels/<family>/family.yaml, and the external trees a family needs (HipKittens, ThunderKittens)."""
