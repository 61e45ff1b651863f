"""Image captioning with soft attention (Show, Attend and Tell, Xu et al. 2015) over a generated scene world."""
