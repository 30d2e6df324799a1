"""The contract (event models, topics) and the plumbing every service uses."""
