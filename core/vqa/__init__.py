"""Visual question answering with stacked attention (Yang et al. 2016) over the captioner's frozen encoder."""
