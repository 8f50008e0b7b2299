"""What goes in and out: the IDX files Fashion-MNIST ships in and where they are found
(:mod:`.idx`, :mod:`.fashion_mnist`), model files and the user's images
(:mod:`.checkpoint`), atomic file writes (:mod:`.files`), figures as PNG in a notebook
(:mod:`.display`), and TensorFlow's start-up log lines kept out of the output
(:mod:`.quiet`). A learner can skip it. Nothing here imports TensorFlow at import time.
"""
